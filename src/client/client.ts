// The typed Acontext API client: the only code in the CLI that speaks HTTP to the API. It unwraps
// the {code, data, msg} envelope, turns failures into APIError / ConnectionError, and streams
// uploads and downloads (node:http, never a whole file in memory).
import { once } from "node:events";
import { type ClientRequest, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { createRequire } from "node:module";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { EXEC_HEADER, type ExecEvent, NDJSON, RAW_STDIN, TERMINAL_BODY } from "../protocol/exec.js";
import { EXTENSIONS_HEADER, type Extension } from "../protocol/extensions.js";
import { encodeFrame } from "../protocol/frames.js";
import type { Terminal } from "../protocol/terminal.js";
import { LineTooLongError, lines } from "./lines.js";

const lazyRequire = createRequire(import.meta.url);

/** The longest line of a streamed exec taken (our server's are ~90 KB): a longer one is not an exec stream. */
const MAX_EXEC_LINE_BYTES = 16 * 1024 * 1024;
/** The longest answer read whole (JSON, an error page): more is refused, not held. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

export interface Disk {
  id: string;
  project_id: string;
  user_id?: string | null;
  created_at: string;
  updated_at: string;
}

export interface Artifact {
  disk_id: string;
  path: string;
  filename: string;
  meta: Record<string, unknown> & { __artifact_info__?: { mime?: string; size?: number } };
  created_at: string;
  updated_at: string;
}

export interface Page<T> {
  items: T[];
  has_more: boolean;
  next_cursor?: string | null;
}

export interface SandboxInfo {
  sandbox_id: string;
  sandbox_status: string;
  sandbox_created_at: string;
  sandbox_expires_at: string;
}

export interface SandboxLog {
  id: string;
  backend_sandbox_id?: string | null;
  backend_type: string;
  history_commands: Array<{ command: string; exit_code: number }>;
  generated_files: Array<{ sandbox_path: string }>;
  will_total_alive_seconds: number;
  created_at: string;
  updated_at: string;
  /** Our extension (absent upstream): null once killed. */
  expires_at?: string | null;
  /** Our extension: null while running. */
  killed_at?: string | null;
  /** Our extension. */
  keepalive_seconds?: number;
}

export interface ExecRequest {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  /** Seconds. */
  timeout?: number;
}

/** The API answered with an error. */
export class APIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: number,
    readonly detail?: string,
  ) {
    super(message);
    this.name = "APIError";
  }
}

/** The API could not be reached (refused, DNS, TLS, reset, timeout). */
export class ConnectionError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach ${url}: ${reason}`);
    this.name = "ConnectionError";
  }
}

interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  headers?: OutgoingHttpHeaders;
  /** A streamed body (with its headers set by the caller). */
  body?: (req: ClientRequest) => Promise<void>;
  /** Long, quiet commands must not be cut by an idle timeout: the server bounds them. */
  noIdleTimeout?: boolean;
}

export class AcontextClient {
  /** Our extensions this API has (extensions.ts): learnt from its answers, none on upstream. */
  extensions: ReadonlySet<string> | undefined;

  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly idleTimeoutMs = 300_000,
  ) {}

  // ---- disks ----

  createDisk(): Promise<Disk> {
    return this.call("POST", "/disk");
  }

  listDisks(options: { limit?: number; cursor?: string } = {}): Promise<Page<Disk>> {
    return this.call("GET", "/disk", { query: { limit: options.limit, cursor: options.cursor } });
  }

  /** Every disk, following cursors. */
  async *allDisks(): AsyncGenerator<Disk> {
    let cursor: string | undefined;
    do {
      const page = await this.listDisks({ limit: 200, cursor });
      yield* page.items;
      cursor = page.has_more ? (page.next_cursor ?? undefined) : undefined;
    } while (cursor);
  }

  async deleteDisk(id: string): Promise<void> {
    await this.call("DELETE", `/disk/${encodeURIComponent(id)}`);
  }

  // ---- artifacts ----

  /** Uploads `source` as `dir` + `filename` (replacing what was there), streamed; `contentType` is the part's type. */
  upload(diskId: string, dir: string, filename: string, source: Readable, size?: number, contentType = "application/octet-stream"): Promise<Artifact> {
    // node:crypto loads here only: ~4 ms of start-up for the commands that never upload.
    const { randomBytes } = lazyRequire("node:crypto") as typeof import("node:crypto");
    // Long (69 of the 70 characters RFC 2046 allows): a multipart parser's boundary search skips
    // ahead by about the boundary's length, so it reads a long body in fewer steps.
    const boundary = `acontext-${randomBytes(30).toString("hex")}`;
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file_path"\r\n\r\n${dir}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename.replace(/["\r\n]/g, "_")}"\r\n` +
        `Content-Type: ${contentType.replace(/[\r\n]/g, "")}\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    return this.call("POST", `/disk/${encodeURIComponent(diskId)}/artifact`, {
      headers: {
        "content-type": `multipart/form-data; boundary=${boundary}`,
        ...(size !== undefined ? { "content-length": head.length + size + tail.length } : {}),
      },
      body: async (req) => {
        req.write(head);
        await pipeline(source, req, { end: false });
        req.end(tail);
      },
    });
  }

  /** An artifact's record; with its text content (text files only) and a public URL when asked. */
  getArtifact(
    diskId: string,
    filePath: string,
    options: { withContent?: boolean; withPublicUrl?: boolean; expire?: number } = {},
  ): Promise<{ artifact: Artifact; public_url?: string | null; content?: { type: string; raw: string } | null }> {
    return this.call("GET", `/disk/${encodeURIComponent(diskId)}/artifact`, {
      query: {
        file_path: filePath,
        with_content: options.withContent ?? false,
        with_public_url: options.withPublicUrl ?? false,
        expire: options.withPublicUrl ? options.expire : undefined,
      },
    });
  }

  /** The artifact's bytes as a stream, with its size when the server says it. */
  async download(diskId: string, filePath: string): Promise<{ stream: IncomingMessage; size?: number }> {
    const res = await this.send("GET", `/disk/${encodeURIComponent(diskId)}/artifact/download`, { query: { file_path: filePath } });
    if ((res.statusCode ?? 0) >= 400) throw await this.errorOf(res);
    const length = Number(res.headers["content-length"]);
    return { stream: res, size: Number.isFinite(length) ? length : undefined };
  }

  async deleteArtifact(diskId: string, filePath: string): Promise<void> {
    await this.call("DELETE", `/disk/${encodeURIComponent(diskId)}/artifact`, { query: { file_path: filePath } });
  }

  listDirectory(diskId: string, dir: string): Promise<{ artifacts: Artifact[]; directories: string[] }> {
    return this.call("GET", `/disk/${encodeURIComponent(diskId)}/artifact/ls`, { query: { path: dir } });
  }

  grep(diskId: string, query: string, limit = 200): Promise<Artifact[]> {
    return this.call("GET", `/disk/${encodeURIComponent(diskId)}/artifact/grep`, { query: { query, limit } });
  }

  glob(diskId: string, query: string, limit = 200): Promise<Artifact[]> {
    return this.call("GET", `/disk/${encodeURIComponent(diskId)}/artifact/glob`, { query: { query, limit } });
  }

  // ---- sandboxes ----

  /** `warnings` (our extension): limits the API cannot hold for this sandbox. */
  createSandbox(options: { keepalive_seconds?: number; network?: boolean } = {}): Promise<SandboxInfo & { warnings?: string[] }> {
    return this.call("POST", "/sandbox", { json: options });
  }

  getSandbox(id: string): Promise<SandboxInfo & { keepalive_seconds?: number }> {
    return this.call("GET", `/sandbox/${encodeURIComponent(id)}`);
  }

  /** Pushes a sandbox's expiry out by `seconds` (ours: PATCH /sandbox/{id}; not on upstream's public API). */
  extendSandbox(id: string, seconds: number): Promise<SandboxInfo> {
    return this.call("PATCH", `/sandbox/${encodeURIComponent(id)}`, { json: { keepalive_longer_by_seconds: seconds } });
  }

  async killSandbox(id: string): Promise<void> {
    const flag = await this.call<{ status: number; errmsg: string }>("DELETE", `/sandbox/${encodeURIComponent(id)}`);
    if (flag?.status) throw new APIError(500, flag.errmsg || "the sandbox could not be killed");
  }

  /** Every sandbox the API remembers (running and killed), following cursors. */
  async *allSandboxes(): AsyncGenerator<SandboxLog> {
    let cursor: string | undefined;
    do {
      const page = await this.call<Page<SandboxLog>>("GET", "/sandbox/logs", { query: { limit: 200, cursor } });
      yield* page.items;
      cursor = page.has_more ? (page.next_cursor ?? undefined) : undefined;
    } while (cursor);
  }

  /**
   * Runs a command, streaming its output as it comes (NDJSON) where the API can; an upstream API
   * answers the buffered JSON, which arrives at the end. `stdin` is streamed as the raw body.
   * Aborting `signal` hangs up, which makes our server kill the command.
   */
  async exec(
    id: string,
    spec: ExecRequest,
    /** `onOutput` may return a promise: reading pauses until it settles (backpressure). */
    options: {
      stdin?: Readable;
      signal?: AbortSignal;
      onOutput: (stream: "stdout" | "stderr", chunk: Buffer) => void | Promise<void>;
      /** On a pseudo-terminal (extension "exec-tty"): stdin is what the user types. */
      tty?: Terminal;
    },
  ): Promise<number> {
    const path = `/sandbox/${encodeURIComponent(id)}/exec`;
    const headers: OutgoingHttpHeaders = { accept: `${NDJSON}, application/json` };
    const { stdin, tty } = options;
    const request: RequestOptions = tty
      ? {
          headers: { ...headers, "content-type": TERMINAL_BODY, [EXEC_HEADER]: headerJson({ ...spec, tty: { rows: tty.rows, cols: tty.cols } }) },
          body: async (req) => {
            const send = (type: string, data: Buffer | string) => req.writableEnded || req.write(encodeFrame(type, data));
            tty.onResize?.((size) => send("w", `${size.rows} ${size.cols}`));
            for await (const chunk of stdin ?? []) if (!send("i", chunk as Buffer)) await once(req, "drain");
            req.end();
          },
          noIdleTimeout: true,
        }
      : stdin
        ? {
            headers: { ...headers, "content-type": RAW_STDIN, [EXEC_HEADER]: headerJson(spec) },
            body: async (req) => {
              await pipeline(stdin, req);
            },
            noIdleTimeout: true,
          }
        : { headers, json: spec, noIdleTimeout: true };
    const res = await this.send("POST", path, request, options.signal);
    if ((res.statusCode ?? 0) >= 400) throw await this.errorOf(res);
    if (!String(res.headers["content-type"]).includes(NDJSON)) {
      const body = JSON.parse(await this.readText(res)) as { data?: { stdout?: string; stderr?: string; exit_code?: number } };
      if (body.data?.stdout) await options.onOutput("stdout", Buffer.from(body.data.stdout));
      if (body.data?.stderr) await options.onOutput("stderr", Buffer.from(body.data.stderr));
      return body.data?.exit_code ?? 1;
    }
    let exitCode: number | undefined;
    try {
      for await (const line of lines(res, MAX_EXEC_LINE_BYTES)) {
        if (!line) continue;
        let event: ExecEvent;
        try {
          event = JSON.parse(line) as ExecEvent;
        } catch {
          throw new ConnectionError(this.baseUrl, "it sent an exec output line that is not JSON (not an Acontext exec stream)");
        }
        if (event.type === "stdout" || event.type === "stderr") await options.onOutput(event.type, Buffer.from(event.data, "base64"));
        else if (event.type === "exit") exitCode = event.exit_code;
      }
    } catch (err) {
      if (!(err instanceof LineTooLongError)) throw err;
      throw new ConnectionError(this.baseUrl, `it sent an exec output line longer than ${MAX_EXEC_LINE_BYTES / 1024 ** 2} MiB (not an Acontext exec stream)`);
    }
    if (exitCode === undefined) throw new ConnectionError(this.baseUrl, "the output stream ended before the command's exit code");
    return exitCode;
  }

  /** disk → sandbox on the server; true when it worked (upstream reports failure as false). */
  async downloadToSandbox(diskId: string, body: { file_path: string; filename: string; sandbox_id: string; sandbox_path: string }): Promise<boolean> {
    const data = await this.call<{ success: boolean }>("POST", `/disk/${encodeURIComponent(diskId)}/artifact/download_to_sandbox`, { json: body });
    return Boolean(data?.success);
  }

  uploadFromSandbox(diskId: string, body: { sandbox_id: string; sandbox_path: string; sandbox_filename: string; file_path: string }): Promise<Artifact> {
    return this.call("POST", `/disk/${encodeURIComponent(diskId)}/artifact/upload_from_sandbox`, { json: body });
  }

  /** A disk folder into a sandbox folder in one call (extension "transfer-tree"). */
  async downloadTreeToSandbox(
    diskId: string,
    body: { file_path: string; sandbox_id: string; sandbox_path: string },
  ): Promise<{ files: number; bytes: number }> {
    const data = await this.call<{ success: boolean; error?: string; files: number; bytes: number }>(
      "POST",
      `/disk/${encodeURIComponent(diskId)}/artifact/download_to_sandbox`,
      { json: { ...body, recursive: true } },
    );
    if (!data.success) throw new APIError(500, `copying into the sandbox failed${data.error ? `: ${data.error}` : ""}`);
    return data;
  }

  /** A sandbox folder onto a disk in one call (extension "transfer-tree"). */
  async uploadTreeFromSandbox(diskId: string, body: { sandbox_id: string; sandbox_path: string; file_path: string }): Promise<Artifact[]> {
    const data = await this.call<{ artifacts: Artifact[] }>("POST", `/disk/${encodeURIComponent(diskId)}/artifact/upload_from_sandbox`, {
      json: { ...body, recursive: true },
    });
    return data.artifacts;
  }

  /** A sandbox file's bytes, exactly its size when opened (extension "sandbox-files"). */
  async readSandboxFile(id: string, path: string): Promise<{ stream: IncomingMessage; size?: number }> {
    const res = await this.send("GET", `/sandbox/${encodeURIComponent(id)}/file`, { query: { path } });
    if ((res.statusCode ?? 0) >= 400) throw await this.errorOf(res);
    const length = Number(res.headers["content-length"]);
    return { stream: res, size: Number.isFinite(length) ? length : undefined };
  }

  /** Writes a sandbox file (parents made) from a stream (extension "sandbox-files"). */
  async writeSandboxFile(id: string, path: string, source: Readable, size?: number): Promise<void> {
    await this.call("PUT", `/sandbox/${encodeURIComponent(id)}/file`, {
      query: { path },
      headers: { "content-type": RAW_STDIN, ...(size !== undefined ? { "content-length": size } : {}) },
      body: async (req) => {
        await pipeline(source, req);
      },
      noIdleTimeout: true,
    });
  }

  /** What a sandbox path names, asked without running a command (extension "sandbox-files"). */
  async statSandboxPath(id: string, path: string): Promise<"file" | "dir" | "other" | "missing"> {
    return (await this.call<{ type: "file" | "dir" | "other" | "missing" }>("GET", `/sandbox/${encodeURIComponent(id)}/stat`, { query: { path } })).type;
  }

  /** The regular files under a sandbox folder, relative to it (extension "sandbox-files"). */
  async listSandboxFiles(id: string, dir: string): Promise<Array<{ path: string; size: number }>> {
    return (await this.call<{ files: Array<{ path: string; size: number }> }>("GET", `/sandbox/${encodeURIComponent(id)}/files`, { query: { path: dir } }))
      .files;
  }

  async ping(): Promise<void> {
    await this.call("GET", "/ping");
  }

  /** Whether the API has one of our extensions; asks it (a ping) if no answer told yet. */
  async supports(extension: Extension): Promise<boolean> {
    if (!this.extensions) await this.ping();
    return this.extensions!.has(extension);
  }

  // ---- HTTP ----

  /** A request whose JSON envelope is unwrapped: `data` on success, APIError otherwise. */
  async call<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, options);
    const text = await this.readText(res);
    let body: { code?: unknown; data?: unknown; msg?: unknown; message?: unknown; error?: unknown } | undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const status = res.statusCode ?? 0;
    const code = typeof body?.code === "number" ? body.code : undefined;
    if (status >= 400 || (code !== undefined && code >= 400)) {
      const message = String(body?.msg || body?.message || res.statusMessage || `HTTP ${status}`);
      throw new APIError(status >= 400 ? status : code!, message, code, typeof body?.error === "string" ? body.error : undefined);
    }
    return body?.data as T;
  }

  private async errorOf(res: IncomingMessage): Promise<APIError> {
    const text = await this.readText(res);
    try {
      const body = JSON.parse(text) as { code?: number; msg?: string; error?: string };
      return new APIError(res.statusCode ?? 0, body.msg || `HTTP ${res.statusCode}`, body.code, body.error);
    } catch {
      return new APIError(res.statusCode ?? 0, text.trim() || `HTTP ${res.statusCode}`);
    }
  }

  /** An answer's body as text, up to MAX_ANSWER_BYTES: a longer one is refused as it arrives, never held whole. */
  private async readText(res: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res) {
      size += (chunk as Buffer).length;
      if (size > MAX_ANSWER_BYTES) {
        res.destroy();
        throw new ConnectionError(this.baseUrl, `its answer to one request is longer than ${MAX_ANSWER_BYTES / 1024 ** 2} MiB`);
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString("utf8");
  }

  private send(method: string, path: string, options: RequestOptions, signal?: AbortSignal): Promise<IncomingMessage> {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const json = options.json === undefined ? undefined : Buffer.from(JSON.stringify(options.json));
    const headers: OutgoingHttpHeaders = {
      authorization: `Bearer ${this.apiKey}`,
      accept: "application/json",
      "user-agent": "acontext-cli",
      ...(json ? { "content-type": "application/json", "content-length": json.length } : {}),
      ...options.headers,
    };
    // node:https (and with it TLS) loads only for https URLs: ~10 ms of start-up otherwise.
    const request = url.protocol === "https:" ? (lazyRequire("node:https") as typeof import("node:https")).request : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, signal }, (res) => {
        // A gateway's error page says nothing about the API behind it.
        const listed = res.headers[EXTENSIONS_HEADER];
        if (typeof listed === "string") this.extensions = new Set(listed.split(","));
        else if ((res.statusCode ?? 500) < 500) this.extensions = new Set();
        resolve(res);
      });
      if (!options.noIdleTimeout) req.setTimeout(this.idleTimeoutMs, () => req.destroy(new Error(`no answer for ${this.idleTimeoutMs / 1000} s`)));
      req.once("error", (err: NodeJS.ErrnoException) => reject(err.name === "AbortError" ? err : new ConnectionError(this.baseUrl, err.code ?? err.message)));
      if (options.body) {
        // Send the headers now: a body source that is slow to start (idle stdin) must not hold
        // back the request, and with it the answer.
        req.flushHeaders();
        options.body(req).catch((err: Error) => req.destroy(err));
      } else req.end(json);
    });
  }
}

/** JSON for an HTTP header, which takes ASCII only: other characters as \uXXXX escapes (still the same JSON). */
function headerJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
