// /disk/{disk_id}/artifact: upsert, get, update meta, delete, download, ls, grep, glob.
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { type Context, Hono } from "hono";
import type { ByteLimit } from "../blobs.js";
import type { AppDeps } from "../deps.js";
import { requireSandboxes } from "../deps.js";
import { grepFiles } from "../grep.js";
import { ApiError, type AppEnv, ok, okEmpty, parseBool, parseInteger, parseUuid, requireQuery, sendStream } from "../http.js";
import { contentTypeOf, isGreppable, sniffMime } from "../mime.js";
import { receiveUpload, requestBody } from "../multipart.js";
import { isDirectoryPath, isValidFilename, isValidPath, splitFilePath } from "../paths.js";
import { checkSandboxPath } from "../sandbox-input.js";
import { type ArtifactRow, artifactJson, RESERVED_META_KEY } from "../store.js";

/** GET artifact returns `content` for text files up to this size. */
const MAX_CONTENT_BYTES = 16 * 1024 * 1024;
/** grep reads text files up to this size (one at a time; GREP_TIMEOUT_MS bounds the total). */
const MAX_GREP_BYTES = 64 * 1024 * 1024;
/** Case-insensitive as upstream; multi-line so ^ and $ anchor lines, as grep users expect. */
const GREP_FLAGS = "im";

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

  /**
   * What one more file on a disk may hold: the upload limit, or what is left of the disk's quota
   * (checked per upload: two at once may pass it by one file).
   */
  const limitFor = (diskId: string): ByteLimit => {
    const left = Math.max(0, deps.diskQuotaBytes - store.diskUsage(diskId));
    if (left < deps.maxUploadBytes) {
      return {
        bytes: left,
        exceeded: () => new ApiError(413, "disk quota exceeded", `the disk holds ${deps.diskQuotaBytes - left} of its ${deps.diskQuotaBytes} bytes`),
      };
    }
    return { bytes: deps.maxUploadBytes, exceeded: () => new ApiError(413, "file too large", `the limit is ${deps.maxUploadBytes} bytes`) };
  };

  app.post("/", async (c) => {
    const diskId = diskOf(c);
    const upload = await receiveUpload(
      c.req.header(),
      requestBody(c.env?.incoming as Readable | undefined, () => c.req.raw.body),
      blobs,
      limitFor(diskId),
      deps.maxBodyBytes,
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
    try {
      new RegExp(query, GREP_FLAGS); // a syntax error is a 400 here; matching runs in the worker
    } catch (err) {
      throw new ApiError(400, "invalid regular expression", (err as Error).message);
    }
    const rows = store.artifactsOf(diskId).filter((row) => row.is_text && isGreppable(row.mime) && row.size <= MAX_GREP_BYTES);
    const matches = await grepFiles({ source: query, flags: GREP_FLAGS, files: rows.map((row) => blobs.path(row.sha256)), limit });
    return ok(
      c,
      matches.map((index) => artifactJson(rows[index]!)),
    );
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
    await sandboxes.running(id);
    const base = sandboxPath.replace(/\/+$/, "");
    const targets = (rows as ArtifactRow[]).map((row) => ({ row, path: `${base}/${row.path.slice(dir.length)}${row.filename}` }));
    for (const { path } of targets) checkSandboxPath(path, "sandbox_path");
    let bytes = 0;
    for (const { row, path } of targets) {
      try {
        await sandboxes.writeFile(id, path, blobs.read(row.sha256), c.req.raw.signal);
      } catch (err) {
        // Upstream answers a failed transfer with 200 and success: false; we add why.
        if (!(err instanceof ApiError) || (err.status === 404 && err.message === "sandbox not found or killed")) throw err;
        return ok(c, { success: false, error: err.detail ?? err.message });
      }
      bytes += row.size;
    }
    return ok(c, recursive ? { success: true, files: rows.length, bytes } : { success: true });
  });

  // sandbox → disk: read inside the sandbox, streamed into the blob store, then an artifact; a
  // file over the upload limit is a 413 and stores nothing.
  // Extension: `recursive: true` and no `sandbox_filename` takes every file under `sandbox_path`
  // (listed inside the sandbox, every name checked, at most the policy's count) and answers
  // `{artifacts: […]}`.
  app.post("/upload_from_sandbox", async (c) => {
    const diskId = parseUuid(c.req.param("diskId"));
    if (!store.hasDisk(diskId)) throw new ApiError(404, "disk not found");
    const body = await jsonOrFormBody(c);
    const recursive = body.recursive === true;
    const fields = requireStrings(
      body,
      recursive ? ["sandbox_id", "sandbox_path", "file_path"] : ["sandbox_id", "sandbox_path", "sandbox_filename", "file_path"],
    );
    const id = parseUuid(fields.sandbox_id, "invalid sandbox_id");
    const dir = directoryField(fields.file_path);
    if (!isValidPath(dir) || (!recursive && !isValidFilename(fields.sandbox_filename))) throw new ApiError(400, "invalid file_path");
    const sandboxes = requireSandboxes(deps);
    const base = fields.sandbox_path.replace(/\/+$/, "");
    checkSandboxPath(base || "/", "sandbox_path");
    await sandboxes.running(id);
    const signal = c.req.raw.signal;
    const files = recursive ? (await sandboxes.listFiles(id, base || "/", signal)).map((file) => file.path) : [fields.sandbox_filename];
    const targets = files.map((relative) => {
      const [subdir, filename] = splitFilePath(`${dir}${relative}`);
      if (!isValidPath(subdir) || !isValidFilename(filename))
        throw new ApiError(400, "invalid file_path", `cannot store ${JSON.stringify(relative)} as an artifact`);
      return { source: `${base}/${relative}`, subdir, filename };
    });
    const artifacts = [];
    for (const { source, subdir, filename } of targets) {
      const limit = limitFor(diskId);
      const file = await sandboxes.readFile(id, source, { limit, signal });
      artifacts.push(await storeArtifact(diskId, subdir, filename, file.stream, limit));
      sandboxes.recordGeneratedFile(id, source);
    }
    return ok(c, recursive ? { artifacts } : artifacts[0], 201);
  });

  /** Stages a stream into the blob store and makes it the artifact at dir + filename. */
  const storeArtifact = async (diskId: string, dir: string, filename: string, source: Readable, limit: ByteLimit) => {
    const staged = await blobs.stage(source, limit);
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

/** A blob as the response body, with its type and length. */
export function sendBlob(c: Context<AppEnv>, sha256: string, size: number, mime: string, deps: AppDeps, headers: Record<string, string> = {}) {
  return sendStream(c, deps.blobs.read(sha256), { "Content-Type": mime || "application/octet-stream", "Content-Length": String(size), ...headers });
}

/**
 * The `file_path` of an upsert or upload_from_sandbox: a directory, so it ends with "/" (missing:
 * the root). Upstream silently drops a last segment without one ("/docs" stores into "/") or
 * stores it as given; neither is what the caller meant, so it is a 400 that says so.
 */
export function directoryField(value: string | undefined): string {
  let dir = (value ?? "").trim() || "/";
  if (!dir.startsWith("/")) dir = `/${dir}`;
  if (!dir.endsWith("/")) {
    throw new ApiError(
      400,
      'file_path is a directory and must end with "/"',
      `got ${JSON.stringify(value)}: did you mean ${JSON.stringify(`${dir}/`)}? (the file's own name comes from the upload)`,
    );
  }
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
