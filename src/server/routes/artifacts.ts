// /disk/{disk_id}/artifact: upsert, get, update meta, delete, download, ls, grep, glob.
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { Hono, type Context } from "hono";
import { stream } from "hono/streaming";
import type { SandboxBackend } from "../../sandbox/backend.js";
import type { AppEnv, AppDeps } from "../app.js";
import { ApiError, ok, okEmpty, parseBool, parseInteger, parseUuid, requireQuery } from "../http.js";
import { contentTypeOf, isGreppable, sniffMime } from "../mime.js";
import { receiveUpload, requestBody } from "../multipart.js";
import { requireSandboxes } from "./sandboxes.js";
import { isDirectoryPath, isValidFilename, isValidPath, splitFilePath } from "../paths.js";
import { artifactJson, RESERVED_META_KEY, type ArtifactRow } from "../store.js";

/** GET artifact returns `content` for text files up to this size. */
const MAX_CONTENT_BYTES = 16 * 1024 * 1024;
/** grep reads text files up to this size. */
const MAX_GREP_BYTES = 64 * 1024 * 1024;

export function artifactRoutes(deps: AppDeps) {
  const { store, blobs } = deps;
  const app = new Hono<AppEnv>();

  /** The disk in the route, which must exist. */
  const diskOf = (c: Context<AppEnv>) => {
    const id = parseUuid(c.req.param("diskId"));
    if (!store.hasDisk(id)) throw new ApiError(404, "disk not found");
    return id;
  };

  /** `file_path` (a full path: directory and filename) from the query. */
  const filePathOf = (c: Context<AppEnv>): [string, string] => {
    const [dir, filename] = splitFilePath(requireQuery(c, "file_path"));
    if (!isValidPath(dir) || (filename !== "" && !isValidFilename(filename))) throw new ApiError(400, "invalid path");
    if (filename === "") throw new ApiError(404, "artifact not found");
    return [dir, filename];
  };

  const artifactOf = (c: Context<AppEnv>, diskId: string): ArtifactRow => {
    const [dir, filename] = filePathOf(c);
    const row = store.getArtifact(diskId, dir, filename);
    if (!row) throw new ApiError(404, "artifact not found");
    return row;
  };

  app.post("/", async (c) => {
    const diskId = diskOf(c);
    const upload = await receiveUpload(
      c.req.header(),
      requestBody(c.env?.incoming as Readable | undefined, () => c.req.raw.body),
      blobs,
      deps.maxUploadBytes,
    );
    const file = upload.file;
    try {
      if (!file) throw new ApiError(400, "file is required");
      const dir = directoryField(upload.fields.get("file_path"));
      if (!isValidPath(dir)) throw new ApiError(400, "invalid path");
      if (!isValidFilename(file.filename)) throw new ApiError(400, "invalid path", `invalid filename ${JSON.stringify(file.filename)}`);
      const meta = parseMeta(upload.fields.get("meta"));
      const staged = file.staged;
      blobs.commit(staged);
      const { artifact, replaced } = store.upsertArtifact({
        diskId,
        path: dir,
        filename: file.filename,
        meta,
        mime: sniffMime({ head: staged.head, isText: staged.isText }, file.filename),
        size: staged.size,
        sha256: staged.sha256,
        isText: staged.isText,
      });
      if (replaced) blobs.removeUnless(replaced, store.isBlobReferenced);
      return ok(c, artifactJson(artifact), 201);
    } catch (err) {
      if (file) await blobs.discard(file.staged);
      throw err;
    }
  });

  app.get("/", async (c) => {
    const diskId = diskOf(c);
    const withPublicUrl = parseBool(c.req.query("with_public_url"), "with_public_url", true);
    const withContent = parseBool(c.req.query("with_content"), "with_content", true);
    const expire = parseInteger(c.req.query("expire"), "expire", { fallback: 3600, min: 1, max: 10 * 365 * 86400 });
    const row = artifactOf(c, diskId);
    const data: { artifact: ReturnType<typeof artifactJson>; public_url?: string; content?: { type: string; raw: string } } = {
      artifact: artifactJson(row),
    };
    if (withPublicUrl) {
      const token = store.createMaterial({ sha256: row.sha256, mime: row.mime, filename: row.filename, expires_ms: Date.now() + expire * 1000 });
      data.public_url = `${new URL(c.req.url).origin}/api/v1/material/${token}`;
    }
    if (withContent && row.is_text && row.size <= MAX_CONTENT_BYTES) {
      const raw = await readFile(blobs.path(row.sha256), "utf8");
      const type = contentTypeOf(row.mime, row.filename, raw);
      if (type) data.content = { type, raw };
    }
    return ok(c, data);
  });

  app.put("/", async (c) => {
    const diskId = diskOf(c);
    const body = await jsonOrFormBody(c);
    const filePath = body.file_path;
    if (typeof filePath !== "string" || filePath === "") throw new ApiError(400, "parameter error", "file_path is required");
    if (typeof body.meta !== "string") throw new ApiError(400, "parameter error", "meta must be a JSON string encoding an object");
    const [dir, filename] = splitFilePath(filePath);
    if (!isValidPath(dir) || !isValidFilename(filename)) throw new ApiError(400, "invalid path");
    const meta = parseMeta(body.meta);
    const row = store.updateArtifactMeta(diskId, dir, filename, meta);
    if (!row) throw new ApiError(404, "artifact not found");
    return ok(c, { artifact: artifactJson(row) });
  });

  app.delete("/", (c) => {
    const diskId = diskOf(c);
    const [dir, filename] = filePathOf(c);
    const sha = store.deleteArtifact(diskId, dir, filename);
    if (!sha) throw new ApiError(404, "artifact not found");
    blobs.removeUnless(sha, store.isBlobReferenced);
    return okEmpty(c);
  });

  app.get("/download", (c) => {
    const row = artifactOf(c, diskOf(c));
    return sendBlob(c, row.sha256, row.size, row.mime, deps);
  });

  app.get("/ls", (c) => {
    const diskId = diskOf(c);
    const path = c.req.query("path") || "/";
    if (!isDirectoryPath(path)) throw new ApiError(400, "both ends of the path must be '/'");
    if (!isValidPath(path)) throw new ApiError(400, "invalid path");
    const { artifacts, directories } = store.listDirectory(diskId, path);
    return ok(c, { artifacts: artifacts.map(artifactJson), directories });
  });

  app.get("/grep", async (c) => {
    const diskId = diskOf(c);
    const query = requireQuery(c, "query");
    const limit = searchLimit(c);
    let pattern: RegExp;
    try {
      // Case-insensitive as upstream; multi-line so ^ and $ anchor lines, as grep users expect.
      pattern = new RegExp(query, "im");
    } catch (err) {
      throw new ApiError(400, "invalid regular expression", (err as Error).message);
    }
    const found: ReturnType<typeof artifactJson>[] = [];
    for (const row of store.artifactsOf(diskId)) {
      if (found.length >= limit) break;
      if (!row.is_text || !isGreppable(row.mime) || row.size > MAX_GREP_BYTES) continue;
      const text = await readFile(blobs.path(row.sha256), "utf8").catch(() => "");
      if (pattern.test(text)) found.push(artifactJson(row));
    }
    return ok(c, found);
  });

  // disk → sandbox: the artifact's bytes are written inside the sandbox (paths resolve in its root).
  // Extension: `recursive: true` and no `filename` copies every artifact under `file_path`.
  app.post("/download_to_sandbox", async (c) => {
    const diskId = diskOf(c);
    const body = await jsonOrFormBody(c);
    const recursive = body.recursive === true;
    const fields = requireStrings(body, recursive ? ["file_path", "sandbox_id", "sandbox_path"] : ["file_path", "filename", "sandbox_id", "sandbox_path"]);
    const { file_path: dir, sandbox_id: sandboxId, sandbox_path: sandboxPath } = fields;
    const id = parseUuid(sandboxId, "invalid sandbox_id");
    if (!isValidPath(dir) || (!recursive && !isValidFilename(fields.filename))) throw new ApiError(400, "invalid file_path");
    if (recursive && !isDirectoryPath(dir)) throw new ApiError(400, "invalid file_path", "a directory: both ends '/'");
    const rows = recursive ? store.artifactsOf(diskId).filter((row) => row.path.startsWith(dir)) : [store.getArtifact(diskId, dir, fields.filename)];
    if (!rows[0] && !recursive) throw new ApiError(404, "artifact not found");
    const sandboxes = requireSandboxes(deps);
    sandboxes.running(id);
    const base = sandboxPath.replace(/\/+$/, "");
    let bytes = 0;
    for (const row of rows as ArtifactRow[]) {
      try {
        await sandboxes.backend.writeFile(id, `${base}/${row.path.slice(dir.length)}${row.filename}`, blobs.read(row.sha256));
      } catch (err) {
        // Upstream answers a failed transfer with 200 and success: false; we add why.
        return ok(c, { success: false, error: (err as Error).message });
      }
      bytes += row.size;
    }
    return ok(c, recursive ? { success: true, files: rows.length, bytes } : { success: true });
  });

  // sandbox → disk: read inside the sandbox, streamed into the blob store, then an artifact.
  // Extension: `recursive: true` and no `sandbox_filename` takes every file under `sandbox_path`
  // and answers `{artifacts: […]}`.
  app.post("/upload_from_sandbox", async (c) => {
    const diskId = parseUuid(c.req.param("diskId"));
    if (!store.hasDisk(diskId)) throw new ApiError(404, "disk not found");
    const body = await jsonOrFormBody(c);
    const recursive = body.recursive === true;
    const fields = requireStrings(body, recursive ? ["sandbox_id", "sandbox_path", "file_path"] : ["sandbox_id", "sandbox_path", "sandbox_filename", "file_path"]);
    const id = parseUuid(fields.sandbox_id, "invalid sandbox_id");
    const dir = directoryField(fields.file_path);
    if (!isValidPath(dir) || (!recursive && !isValidFilename(fields.sandbox_filename))) throw new ApiError(400, "invalid file_path");
    const sandboxes = requireSandboxes(deps);
    sandboxes.running(id);
    const base = fields.sandbox_path.replace(/\/+$/, "");
    const files = recursive ? await filesUnder(sandboxes.backend, id, base || "/") : [fields.sandbox_filename];
    const targets = files.map((relative) => {
      const [subdir, filename] = splitFilePath(`${dir}${relative}`);
      if (!isValidPath(subdir) || !isValidFilename(filename)) throw new ApiError(400, "invalid file_path", `cannot store ${relative} as an artifact`);
      return { source: `${base}/${relative}`, subdir, filename };
    });
    const artifacts = [];
    for (const { source, subdir, filename } of targets) {
      let stream;
      try {
        stream = await sandboxes.backend.readFile(id, source);
      } catch (err) {
        throw new ApiError(404, "file not found in sandbox", (err as Error).message);
      }
      artifacts.push(await storeArtifact(diskId, subdir, filename, stream));
      sandboxes.recordGeneratedFile(id, source);
    }
    return ok(c, recursive ? { artifacts } : artifacts[0], 201);
  });

  /** Stages a stream into the blob store and makes it the artifact at dir + filename. */
  const storeArtifact = async (diskId: string, dir: string, filename: string, source: Readable) => {
    const staged = await blobs.stage(source);
    try {
      blobs.commit(staged);
    } catch (err) {
      await blobs.discard(staged);
      throw err;
    }
    const { artifact, replaced } = store.upsertArtifact({
      diskId,
      path: dir,
      filename,
      meta: {},
      mime: sniffMime({ head: staged.head, isText: staged.isText }, filename),
      size: staged.size,
      sha256: staged.sha256,
      isText: staged.isText,
    });
    if (replaced) blobs.removeUnless(replaced, store.isBlobReferenced);
    return artifactJson(artifact);
  };

  app.get("/glob", (c) => {
    const diskId = diskOf(c);
    const pattern = globToRegExp(requireQuery(c, "query"));
    const limit = searchLimit(c);
    const found = store
      .artifactsOf(diskId)
      .filter((row) => pattern.test(row.path + row.filename))
      .slice(0, limit);
    return ok(c, found.map(artifactJson));
  });

  return app;
}

/**
 * Streams a blob as the response body with its type and length. Served by Node, the file is
 * piped straight into the socket (3× faster than through a Web stream); in-process it is a
 * Web stream.
 */
export function sendBlob(c: Context<AppEnv>, sha256: string, size: number, mime: string, deps: AppDeps, headers: Record<string, string> = {}) {
  const all = { "Content-Type": mime || "application/octet-stream", "Content-Length": String(size), ...headers };
  const outgoing = c.env?.outgoing;
  if (outgoing) {
    outgoing.writeHead(200, all);
    pipeline(deps.blobs.read(sha256), outgoing).catch(() => outgoing.destroy());
    return RESPONSE_ALREADY_SENT;
  }
  for (const [name, value] of Object.entries(all)) c.header(name, value);
  return stream(c, async (out) => {
    for await (const chunk of deps.blobs.read(sha256)) await out.write(chunk as Uint8Array);
  });
}

/**
 * The upsert `file_path` field: a directory. Upstream drops a last segment without a trailing "/"
 * ("/docs" stores into "/"); we read it as the directory the caller named.
 */
export function directoryField(value: string | undefined): string {
  let dir = (value ?? "").trim() || "/";
  if (!dir.startsWith("/")) dir = `/${dir}`;
  if (!dir.endsWith("/")) dir = `${dir}/`;
  return dir;
}

/** User meta: a JSON string encoding an object, without the reserved key. */
export function parseMeta(value: string | undefined): Record<string, unknown> {
  if (value === undefined || value === "") return {};
  let meta: unknown;
  try {
    meta = JSON.parse(value);
  } catch {
    throw new ApiError(400, "invalid meta JSON format");
  }
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) throw new ApiError(400, "invalid meta JSON format");
  if (RESERVED_META_KEY in meta) throw new ApiError(400, "parameter error", `reserved key '${RESERVED_META_KEY}' is not allowed in user meta`);
  return meta as Record<string, unknown>;
}

/**
 * Upstream's glob: `*` and `**` match any run of characters (crossing "/"), `?` one character,
 * over the whole of path + filename, case-sensitively. Unlike upstream's SQL LIKE translation,
 * `%` and `_` are literal: `my_file.py` does not match `myXfile.py`.
 */
export function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === "*") {
      while (glob[i + 1] === "*") i++;
      source += ".*";
    } else if (ch === "?") source += ".";
    else source += ch.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${source}$`, "s");
}

function requireStrings<Name extends string>(body: Record<string, unknown>, names: readonly Name[]): Record<Name, string> {
  const out = {} as Record<Name, string>;
  for (const name of names) {
    const value = body[name];
    if (typeof value !== "string" || value === "") throw new ApiError(400, "parameter error", `${name} is required`);
    out[name] = value;
  }
  return out;
}

/** Regular files under a sandbox folder, relative to it, listed inside the sandbox. */
async function filesUnder(backend: SandboxBackend, id: string, dir: string): Promise<string[]> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const result = await backend.exec(id, {
    command: 'cd -- "$P" && find . -type f -print0',
    cwd: "/",
    env: { P: dir },
    onOutput: (stream, chunk) => void (stream === "stdout" ? out : err).push(chunk),
  });
  if (result.exitCode !== 0) throw new ApiError(404, "file not found in sandbox", Buffer.concat(err).toString().trim());
  return Buffer.concat(out)
    .toString()
    .split("\0")
    .filter(Boolean)
    .map((path) => path.replace(/^\.\//, ""))
    .sort();
}

/** grep/glob `limit`: 0 or absent means 100; at most 200 (upstream's binding). */
function searchLimit(c: Context<AppEnv>): number {
  return parseInteger(c.req.query("limit"), "limit", { fallback: 0, min: 0, max: 200 }) || 100;
}

async function jsonOrFormBody(c: Context<AppEnv>): Promise<Record<string, unknown>> {
  const type = c.req.header("content-type") ?? "";
  try {
    if (/application\/json/i.test(type)) {
      const body: unknown = await c.req.json();
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw new Error("not an object");
      return body as Record<string, unknown>;
    }
    if (/multipart\/form-data|application\/x-www-form-urlencoded/i.test(type)) {
      return (await c.req.parseBody()) as Record<string, unknown>;
    }
  } catch (err) {
    throw new ApiError(400, "parameter error", `the body must be a JSON object: ${(err as Error).message}`);
  }
  throw new ApiError(400, "parameter error", "the body must be JSON (application/json)");
}
