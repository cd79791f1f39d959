// /sandbox: create, exec (buffered JSON, or streamed NDJSON), kill, logs; extensions: get, extend.
import { Readable, Transform } from "node:stream";
import { type Context, Hono } from "hono";
import { stream } from "hono/streaming";
import { EXEC_HEADER, type ExecEvent, NDJSON, RAW_STDIN, TERMINAL_BODY } from "../../protocol/exec.js";
import { type AppDeps, requireSandboxes } from "../deps.js";
import { ApiError, type AppEnv, ok, parseBool, parseInteger, parseUuid, requireQuery, sendStream } from "../http.js";
import { requestBody } from "../multipart.js";
import type { ExecSpec } from "../sandboxes.js";
import { MAX_TERMINAL_SIDE, terminalInput, terminalSize } from "../terminal.js";

/**
 * A buffered (JSON) exec answer holds at most this many bytes of JSON per stream: its output is
 * counted as JSON writes it (a control byte is six bytes, "\u0000"), so binary output cannot grow
 * the answer past it.
 */
export const MAX_ANSWER_BYTES_PER_STREAM = 4 * 1024 * 1024;
/** Buffered execs running (or sending their answers) at once, server-wide, unless configured. */
export const DEFAULT_MAX_BUFFERED_EXECS = 32;
/**
 * The most bytes one output byte becomes in a JSON string: six for a control byte (\u00XX), two for
 * the ones with short escapes (\n, \t, \", \\ …), three for a byte of 0x80 and above (one that is not
 * valid UTF-8 becomes U+FFFD, three bytes), one otherwise.
 */
const JSON_COST = (() => {
  const cost = new Uint8Array(256).fill(1);
  cost.fill(6, 0, 0x20);
  for (const byte of [0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x22, 0x5c]) cost[byte] = 2;
  cost.fill(3, 0x80);
  return cost;
})();
const DEFAULT_EXEC_TIMEOUT_SECONDS = 300;
const MAX_EXEC_TIMEOUT_SECONDS = 3600;
const DEFAULT_KEEPALIVE_SECONDS = 600;

export function sandboxRoutes(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  const service = () => requireSandboxes(deps);
  const sandboxId = (c: Context<AppEnv>) => parseUuid(c.req.param("id"), "invalid sandbox_id");
  // Buffered execs hold their output until the end, and then their answer until the client has
  // taken it: how many may do so at once bounds what they hold together.
  const maxBuffered = deps.maxBufferedExecs ?? DEFAULT_MAX_BUFFERED_EXECS;
  let buffered = 0;

  app.post("/", async (c) => {
    const body = await optionalJson(c);
    const limits = objectField(body, "limits");
    const network = booleanField(body, "network") ?? false;
    const unavailable = service().backend.networkUnavailable;
    if (network && unavailable) throw new ApiError(400, "parameter error", unavailable);
    const created = await service().create({
      keepaliveSeconds: integerField(body, "keepalive_seconds", 1, 7 * 86400) ?? DEFAULT_KEEPALIVE_SECONDS,
      network,
      // What is not given the service sets (the defaults, within the host).
      limits: {
        memoryBytes: megabytes(integerField(limits, "memory_mb", 16, 65536)),
        pids: integerField(limits, "pids", 8, 65536),
        cpus: numberField(limits, "cpus", 0.05, 64),
        diskBytes: megabytes(integerField(limits, "disk_mb", 16, 1024 * 1024)),
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

  app.get("/:id", async (c) => ok(c, await service().get(sandboxId(c))));

  app.patch("/:id", async (c) => {
    const id = sandboxId(c);
    const body = await optionalJson(c);
    const seconds = integerField(body, "keepalive_longer_by_seconds", 1, 7 * 86400);
    if (seconds === undefined) throw new ApiError(400, "parameter error", "keepalive_longer_by_seconds is required");
    return ok(c, await service().extend(id, seconds));
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
    const onTerminal = contentType.toLowerCase().startsWith(TERMINAL_BODY);
    const rawStdin = onTerminal || contentType.toLowerCase().startsWith(RAW_STDIN);
    const header = rawStdin ? headerJson(c.req.header(EXEC_HEADER)) : await optionalJson(c);
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
    await sandboxes.running(id);

    if (!(c.req.header("accept") ?? "").includes(NDJSON)) {
      if (buffered >= maxBuffered) {
        throw new ApiError(
          429,
          "too many buffered execs running",
          `this server runs at most ${maxBuffered} buffered (JSON) execs at once (--max-buffered-execs); retry when one has ended, or stream the output (Accept: ${NDJSON})`,
        );
      }
      buffered++;
      let held = true;
      const release = () => {
        if (held) buffered--;
        held = false;
      };
      try {
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        const result = await sandboxes.exec(id, {
          ...spec,
          maxOutputBytes: MAX_ANSWER_BYTES_PER_STREAM,
          outputCost: JSON_COST,
          truncatedNote: (name, limit) =>
            `\n[acontext: ${name} truncated: a JSON answer holds at most ${limit} bytes per stream, as JSON counts them (a control byte is six); stream the exec (Accept: ${NDJSON}) for all of it]\n`,
          onOutput: (name, chunk) => {
            (name === "stdout" ? out : err).push(chunk);
          },
        });
        const answer = ok(c, { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), exit_code: result.exitCode });
        // The slot is held until the answer is sent (or its client gone), not just made.
        const outgoing = c.env?.outgoing;
        if (outgoing && !outgoing.destroyed && !outgoing.writableFinished) outgoing.once("close", release);
        else release();
        return answer;
      } catch (err) {
        release();
        throw err;
      }
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
          const line = `${JSON.stringify({ type: name, data: chunk.toString("base64") } satisfies ExecEvent)}\n`;
          writes = writes.then(() => out.write(line)).then(() => {});
          return writes;
        },
      });
      await writes;
      await out.write(`${JSON.stringify({ type: "exit", exit_code: result.exitCode, timed_out: result.timedOut } satisfies ExecEvent)}\n`);
    });
  });

  // Extension "sandbox-files": a sandbox's files to and from the client, moved and listed by the
  // backend itself: regular files only, every listed name checked, within the transfer deadline.
  // A file read ends at the size it had when opened (that is its Content-Length).
  app.get("/:id/file", async (c) => {
    const file = await service().readFile(sandboxId(c), requireQuery(c, "path"), { signal: c.req.raw.signal });
    return sendStream(c, file.stream, { "Content-Type": RAW_STDIN, "Content-Length": String(file.size) });
  });

  app.put("/:id/file", async (c) => {
    const id = sandboxId(c);
    const path = requireQuery(c, "path");
    let size = 0;
    const body = requestBody(c.env?.incoming as Readable | undefined, () => c.req.raw.body);
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        done(null, chunk);
      },
    });
    body.once("error", (err) => counted.destroy(err));
    await service().writeFile(id, path, body.pipe(counted), c.req.raw.signal);
    return ok(c, { path, size });
  });

  app.get("/:id/stat", async (c) => {
    const path = requireQuery(c, "path");
    return ok(c, { path, type: await service().stat(sandboxId(c), path, c.req.raw.signal) });
  });

  app.get("/:id/files", async (c) => ok(c, { files: await service().listFiles(sandboxId(c), requireQuery(c, "path"), c.req.raw.signal) }));

  return app;
}

function parseExecSpec(body: Record<string, unknown>): ExecSpec {
  const command = body.command;
  if (typeof command !== "string" || command === "") throw new ApiError(400, "parameter error", "command is required");
  // Types here; what may enter a sandbox (paths, names, sizes, no NUL) the service checks.
  const cwd = body.cwd;
  if (cwd !== undefined && typeof cwd !== "string") throw new ApiError(400, "parameter error", "cwd must be an absolute path");
  const env = body.env;
  if (env !== undefined && (typeof env !== "object" || env === null || Array.isArray(env) || Object.values(env).some((v) => typeof v !== "string"))) {
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

function megabytes(value: number | undefined): number | undefined {
  return value === undefined ? undefined : value * 1024 ** 2;
}

function booleanField(body: Record<string, unknown>, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw new ApiError(400, "parameter error", `${name} must be true or false`);
  return value;
}
