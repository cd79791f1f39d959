// Streaming multipart/form-data: the `file` part goes straight into the blob store's tmp/, so an
// upload of any size never sits in memory; the small text fields are collected.
import { Readable } from "node:stream";
import busboy from "busboy";
import type { BlobStore, StagedBlob } from "./blobs.js";
import { ApiError } from "./http.js";

export interface Upload {
  fields: Map<string, string>;
  file?: { filename: string; staged: StagedBlob };
}

const MAX_FIELD_BYTES = 1024 * 1024;

/**
 * Reads a multipart body. The caller owns the staged file: it must commit or discard it. On any
 * error nothing is left in tmp/.
 */
export async function receiveUpload(
  headers: Record<string, string>,
  body: Readable,
  blobs: BlobStore,
  maxFileBytes: number,
): Promise<Upload> {
  if (!/^multipart\/form-data\b/i.test(headers["content-type"] ?? "")) {
    body.resume();
    throw new ApiError(400, "parameter error", "the body must be multipart/form-data with a `file` part");
  }
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers, limits: { fieldSize: MAX_FIELD_BYTES, fields: 50, files: 10 } });
  } catch (err) {
    body.resume();
    throw new ApiError(400, "invalid multipart body", (err as Error).message);
  }

  const fields = new Map<string, string>();
  let staging: Promise<{ filename: string; staged: StagedBlob }> | undefined;
  const settled: Upload = { fields };

  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (err: unknown) => {
        body.unpipe(parser);
        body.resume(); // drain the rest so the response can still be read by the client
        reject(err);
      };
      parser.on("field", (name, value, info) => {
        if (info.valueTruncated) fail(new ApiError(400, "parameter error", `field ${name} is larger than ${MAX_FIELD_BYTES} bytes`));
        else fields.set(name, value);
      });
      parser.on("file", (name, stream, info) => {
        if (name !== "file" || staging) {
          stream.resume();
          return;
        }
        // busboy gives the base name only (preservePath is off), as Go's multipart does.
        staging = blobs.stage(stream, maxFileBytes).then((staged) => ({ filename: info.filename ?? "", staged }));
        staging.catch(fail);
      });
      parser.on("error", (err) => fail(new ApiError(400, "invalid multipart body", (err as Error).message)));
      parser.on("close", () => resolve());
      body.on("error", fail);
      body.pipe(parser);
    });
    if (staging) settled.file = await staging;
    return settled;
  } catch (err) {
    const staged = await staging?.catch(() => undefined);
    if (staged) await blobs.discard(staged.staged);
    throw err;
  }
}

/**
 * The request body as a Node stream: the socket's own stream when served by Node (touching
 * `c.req.raw.body` there would start a second reader on it), else the Web body (app.request()).
 */
export function requestBody(incoming: Readable | undefined, webBody: () => ReadableStream<Uint8Array> | null): Readable {
  if (incoming) return incoming;
  const web = webBody();
  return web ? Readable.fromWeb(web as import("node:stream/web").ReadableStream) : Readable.from([]);
}
