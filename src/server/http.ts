// The wire envelope {code, data, msg}, errors, and query parsing shared by the routes.
import type { Context } from "hono";

/** An error answered as the envelope with `code` equal to the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Extra detail for the `error` field (upstream sends it outside release mode). */
    readonly detail?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function envelope(status: number, msg: string, detail?: string) {
  return detail ? { code: status, msg, error: detail } : { code: status, msg };
}

export function ok<T>(c: Context, data: T, status: 200 | 201 = 200): Response {
  return c.json({ code: 0, data, msg: "" }, status);
}

/** Success without data (deletes), as upstream: `{"code":0,"msg":""}`. */
export function okEmpty(c: Context): Response {
  return c.json({ code: 0, msg: "" }, 200);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID path or body parameter, lowercased; anything else is a 400 with `msg`. */
export function parseUuid(value: string | undefined, msg = "parameter error"): string {
  if (!value || !UUID.test(value)) throw new ApiError(400, msg, `not a UUID: ${JSON.stringify(value ?? "")}`);
  return value.toLowerCase();
}

/** A query boolean as Go's strconv.ParseBool reads it; absent → `fallback`. */
export function parseBool(value: string | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  throw new ApiError(400, "parameter error", `${name} must be a boolean, got ${JSON.stringify(value)}`);
}

/** A whole-number query parameter within [min, max]; absent → `fallback`. */
export function parseInteger(
  value: string | undefined,
  name: string,
  { fallback, min, max }: { fallback: number; min: number; max: number },
): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || n < min || n > max) {
    throw new ApiError(400, "parameter error", `${name} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

/** A required, non-empty query parameter. */
export function requireQuery(c: Context, name: string): string {
  const value = c.req.query(name);
  if (value === undefined || value === "") throw new ApiError(400, "parameter error", `${name} is required`);
  return value;
}
