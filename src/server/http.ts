// The wire envelope {code, data, msg}, errors, query parsing and streamed answers shared by the routes.
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { HttpBindings } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context } from "hono";
import { stream } from "hono/streaming";

/** Served by Node, the routes reach its request and response (streams); in-process they do not. */
export type AppEnv = { Bindings: Partial<HttpBindings> };

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
export function parseInteger(value: string | undefined, name: string, { fallback, min, max }: { fallback: number; min: number; max: number }): number {
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

/**
 * Streams `source` as the response body with `headers` (a Content-Length among them). Served by
 * Node, it is piped straight into the socket (3× faster than through a Web stream); in-process it
 * is a Web stream. A source that fails midway cuts the answer short of its length.
 */
export function sendStream(c: Context<AppEnv>, source: Readable, headers: Record<string, string>): Response {
  const outgoing = c.env?.outgoing;
  if (outgoing) {
    outgoing.writeHead(200, headers);
    pipeline(source, outgoing).catch(() => outgoing.destroy());
    return RESPONSE_ALREADY_SENT;
  }
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
  return stream(c, async (out) => {
    for await (const chunk of source) await out.write(chunk as Uint8Array);
  });
}
