// Reading a tool call's arguments: what a model sends is unchecked JSON. A missing or mistyped
// argument is a ToolError with upstream's wording ("command is required"), shown to the model as
// a tool error, never a crash.

export type Args = Record<string, unknown>;

/** A failure the model should read as the tool's answer (isError), without a stack. */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToolError";
  }
}

/** A required string; empty counts as missing unless `allowEmpty`. */
export function requiredString(args: Args, name: string, options: { allowEmpty?: boolean; what?: string } = {}): string {
  const value = args[name];
  if (value === undefined || value === null || (value === "" && !options.allowEmpty)) throw new ToolError(`${name} is required${options.what ?? ""}`);
  if (typeof value !== "string") throw new ToolError(`${name} must be a string, got ${typeOf(value)}`);
  return value;
}

/** An optional string (null and "" count as absent). */
export function optionalString(args: Args, name: string): string | undefined {
  const value = args[name];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new ToolError(`${name} must be a string, got ${typeOf(value)}`);
  return value;
}

/** An optional number (null counts as absent); `integer` floors it; it must be at least `min`. */
export function optionalNumber(args: Args, name: string, options: { min?: number; integer?: boolean } = {}): number | undefined {
  let value = args[name];
  if (value === undefined || value === null) return undefined;
  // Models sometimes send numbers as strings.
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) value = Number(value);
  if (typeof value !== "number" || !Number.isFinite(value)) throw new ToolError(`${name} must be a number, got ${typeOf(value)}`);
  const number = options.integer ? Math.floor(value) : value;
  if (options.min !== undefined && number < options.min) throw new ToolError(`${name} must be at least ${options.min}, got ${value}`);
  return number;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value) : typeof value;
}

/** Upstream's folder rule for a path argument: empty is `/`; a leading and a trailing `/` are added. */
export function asFolder(path: string | undefined): string {
  if (!path) return "/";
  const leading = path.startsWith("/") ? path : `/${path}`;
  return leading.endsWith("/") ? leading : `${leading}/`;
}

export const MAX_OUTPUT_CHARS = 20_000;
export const TRUNCATED = "...[truncated]";

/** Upstream's cut: at most MAX_OUTPUT_CHARS characters, then the marker, so a cut is never silent. */
export function truncate(text: string, cut = false): string {
  return text.length > MAX_OUTPUT_CHARS || cut ? text.slice(0, MAX_OUTPUT_CHARS) + TRUNCATED : text;
}
