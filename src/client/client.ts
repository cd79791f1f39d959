// The typed Acontext API client: the only code in the CLI that speaks HTTP to the API. It unwraps
// the {code, data, msg} envelope, turns failures into APIError / ConnectionError, and streams
// uploads and downloads (node:http, never a whole file in memory).
import { randomBytes } from "node:crypto";
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

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
  body?: (req: NodeJS.WritableStream) => Promise<void>;
}

export class AcontextClient {
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

  /** Uploads `source` as `dir` + `filename` (replacing what was there), streamed. */
  upload(diskId: string, dir: string, filename: string, source: Readable, size?: number): Promise<Artifact> {
    const boundary = `acontext-${randomBytes(12).toString("hex")}`;
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file_path"\r\n\r\n${dir}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename.replace(/["\r\n]/g, "_")}"\r\n` +
        "Content-Type: application/octet-stream\r\n\r\n",
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

  getArtifact(diskId: string, filePath: string): Promise<{ artifact: Artifact }> {
    return this.call("GET", `/disk/${encodeURIComponent(diskId)}/artifact`, {
      query: { file_path: filePath, with_content: false, with_public_url: false },
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

  async ping(): Promise<void> {
    await this.call("GET", "/ping");
  }

  // ---- HTTP ----

  /** A request whose JSON envelope is unwrapped: `data` on success, APIError otherwise. */
  async call<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, options);
    const text = await readText(res);
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
    const text = await readText(res);
    try {
      const body = JSON.parse(text) as { code?: number; msg?: string; error?: string };
      return new APIError(res.statusCode ?? 0, body.msg || `HTTP ${res.statusCode}`, body.code, body.error);
    } catch {
      return new APIError(res.statusCode ?? 0, text.trim() || `HTTP ${res.statusCode}`);
    }
  }

  private send(method: string, path: string, options: RequestOptions): Promise<IncomingMessage> {
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
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers }, resolve);
      req.setTimeout(this.idleTimeoutMs, () => req.destroy(new Error(`no answer for ${this.idleTimeoutMs / 1000} s`)));
      req.once("error", (err: NodeJS.ErrnoException) => reject(new ConnectionError(this.baseUrl, err.code ?? err.message)));
      if (options.body) options.body(req).catch((err: Error) => req.destroy(err));
      else req.end(json);
    });
  }
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
