// /sandbox: create, exec (buffered JSON, or streamed NDJSON), kill, logs; extensions: get, extend.
import { Readable } from "node:stream";
import { Hono, type Context } from "hono";
import { stream } from "hono/streaming";
import type { AppDeps, AppEnv } from "../app.js";
import { ApiError, ok, parseBool, parseInteger, parseUuid } from "../http.js";
import { requestBody } from "../multipart.js";
import { DEFAULT_LIMITS, type ExecSpec, type SandboxService } from "../sandboxes.js";
import { MAX_TERMINAL_SIDE, terminalInput, terminalSize } from "../terminal.js";

/** Captured output per stream in a buffered (JSON) exec answer. */
const MAX_CAPTURED_BYTES = 10 * 1024 * 1024;
const DEFAULT_EXEC_TIMEOUT_SECONDS = 300;
const MAX_EXEC_TIMEOUT_SECONDS = 3600;
const DEFAULT_KEEPALIVE_SECONDS = 600;
export const NDJSON = "application/x-ndjson";

export function sandboxRoutes(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  const service = () => requireSandboxes(deps);
  const sandboxId = (c: Context<AppEnv>) => parseUuid(c.req.param("id"), "invalid sandbox_id");

  app.post("/", async (c) => {
    const body = await optionalJson(c);
    const limits = objectField(body, "limits");
    const network = booleanField(body, "network") ?? false;
    const unavailable = service().backend.networkUnavailable;
    if (network && unavailable) throw new ApiError(400, "parameter error", unavailable);
    const created = await service().create({
      keepaliveSeconds: integerField(body, "keepalive_seconds", 1, 7 * 86400) ?? DEFAULT_KEEPALIVE_SECONDS,
      network,
      limits: {
        memoryBytes: (integerField(limits, "memory_mb", 16, 65536) ?? DEFAULT_LIMITS.memoryBytes / 1024 ** 2) * 1024 ** 2,
        pids: integerField(limits, "pids", 8, 65536) ?? DEFAULT_LIMITS.pids,
        cpus: numberField(limits, "cpus", 0.05, 64) ?? DEFAULT_LIMITS.cpus,
        diskBytes: (integerField(limits, "disk_mb", 16, 1024 * 1024) ?? DEFAULT_LIMITS.diskBytes / 1024 ** 2) * 1024 ** 2,
      },
    });
    return ok(c, created, 201);
  });

  app.get("/logs", (c) =>
    ok(
      c,
      service().list({
        limit: parseInteger(c.req.query("limit"), "limit", { fallback: 20, min: 1, max: 200 }),
        cursor: c.req.query("cursor") || undefined,
        timeDesc: parseBool(c.req.query("time_desc"), "time_desc", false),
      }),
    ),
  );

  app.get("/:id", (c) => ok(c, service().get(sandboxId(c))));

  app.patch("/:id", async (c) => {
    const id = sandboxId(c);
    const body = await optionalJson(c);
    const seconds = integerField(body, "keepalive_longer_by_seconds", 1, 7 * 86400);
    if (seconds === undefined) throw new ApiError(400, "parameter error", "keepalive_longer_by_seconds is required");
    return ok(c, service().extend(id, seconds));
  });

  app.delete("/:id", async (c) => {
    await service().kill(sandboxId(c));
    return ok(c, { status: 0, errmsg: "" });
  });

  app.post("/:id/exec", async (c) => {
    const id = sandboxId(c);
    const sandboxes = service();
    // Streaming stdin: the body is the input and the exec spec travels in a header. On a terminal
    // the body is framed: typed input and the terminal's resizes.
    const contentType = c.req.header("content-type") ?? "";
    const onTerminal = /application\/x-acontext-tty/i.test(contentType);
    const rawStdin = onTerminal || /application\/octet-stream/i.test(contentType);
    const header = rawStdin ? headerJson(c.req.header("x-acontext-exec")) : await optionalJson(c);
    const spec = parseExecSpec(header);
    if (rawStdin) spec.stdin = requestBody(c.env?.incoming as Readable | undefined, () => c.req.raw.body);
    if (onTerminal) {
      const tty = objectField(header, "tty");
      const size = terminalSize(tty.rows, tty.cols);
      if (!size) throw new ApiError(400, "parameter error", `tty must be {rows, cols}, each from 1 to ${MAX_TERMINAL_SIDE}`);
      const { stdin, terminal } = terminalInput(spec.stdin!, size);
      spec.stdin = stdin;
      spec.tty = terminal;
      // An interactive session runs until it ends, up to the longest exec.
      if (header.timeout === undefined) spec.timeoutSeconds = MAX_EXEC_TIMEOUT_SECONDS;
    }
    sandboxes.running(id);

    if (!(c.req.header("accept") ?? "").includes(NDJSON)) {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const result = await sandboxes.exec(id, {
        ...spec,
        maxOutputBytes: MAX_CAPTURED_BYTES,
        onOutput: (name, chunk) => {
          (name === "stdout" ? out : err).push(chunk);
        },
      });
      return ok(c, { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), exit_code: result.exitCode });
    }

    // NDJSON: {"type":"stdout"|"stderr","data":"<base64>"} lines as output comes, then
    // {"type":"exit","exit_code":N,"timed_out":bool}. A client that hangs up kills the command.
    const aborted = new AbortController();
    c.header("Content-Type", NDJSON);
    return stream(c, async (out) => {
      out.onAbort(() => aborted.abort());
      let writes = Promise.resolve();
      const result = await sandboxes.exec(id, {
        ...spec,
        signal: aborted.signal,
        // Returning the write pauses the command's output until the client has taken it.
        onOutput: (name, chunk) => {
          const line = `${JSON.stringify({ type: name, data: chunk.toString("base64") })}\n`;
          writes = writes.then(() => out.write(line)).then(() => {});
          return writes;
        },
      });
      await writes;
      await out.write(`${JSON.stringify({ type: "exit", exit_code: result.exitCode, timed_out: result.timedOut })}\n`);
    });
  });

  return app;
}

/** The sandbox service, or a 503 that says why this server has none. */
export function requireSandboxes(deps: AppDeps): SandboxService {
  if (!deps.sandboxes) throw new ApiError(503, "sandboxes are not available on this server", deps.sandboxesUnavailable);
  return deps.sandboxes;
}

function parseExecSpec(body: Record<string, unknown>): ExecSpec {
  const command = body.command;
  if (typeof command !== "string" || command === "") throw new ApiError(400, "parameter error", "command is required");
  const cwd = body.cwd;
  if (cwd !== undefined && (typeof cwd !== "string" || !cwd.startsWith("/") || cwd.includes("\0"))) {
    throw new ApiError(400, "parameter error", "cwd must be an absolute path");
  }
  const env = body.env;
  if (env !== undefined && (typeof env !== "object" || env === null || Array.isArray(env) || Object.entries(env).some(([k, v]) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || typeof v !== "string"))) {
    throw new ApiError(400, "parameter error", "env must be an object of NAME: string");
  }
  const stdin = body.stdin;
  if (stdin !== undefined && typeof stdin !== "string") throw new ApiError(400, "parameter error", "stdin must be a string");
  return {
    command,
    cwd: cwd as string | undefined,
    env: env as Record<string, string> | undefined,
    timeoutSeconds: integerField(body, "timeout", 1, MAX_EXEC_TIMEOUT_SECONDS) ?? DEFAULT_EXEC_TIMEOUT_SECONDS,
    stdin: stdin === undefined ? undefined : Readable.from([Buffer.from(stdin)]),
  };
}

async function optionalJson(c: Context<AppEnv>): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(400, "parameter error", "the body must be JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new ApiError(400, "parameter error", "the body must be a JSON object");
  return body as Record<string, unknown>;
}

function headerJson(value: string | undefined): Record<string, unknown> {
  try {
    const body: unknown = JSON.parse(value ?? "");
    if (typeof body === "object" && body !== null && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ApiError(400, "parameter error", "with a raw stdin body, the X-Acontext-Exec header carries the exec as JSON");
}

function objectField(body: Record<string, unknown>, name: string): Record<string, unknown> {
  const value = body[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new ApiError(400, "parameter error", `${name} must be an object`);
  return value as Record<string, unknown>;
}

function numberField(body: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw new ApiError(400, "parameter error", `${name} must be a number from ${min} to ${max}`);
  }
  return value;
}

function integerField(body: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const value = numberField(body, name, min, max);
  if (value !== undefined && !Number.isInteger(value)) throw new ApiError(400, "parameter error", `${name} must be a whole number`);
  return value;
}

function booleanField(body: Record<string, unknown>, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw new ApiError(400, "parameter error", `${name} must be true or false`);
  return value;
}
