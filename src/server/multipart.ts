// Streaming multipart/form-data: the `file` part goes straight into the blob store's tmp/, so an
// upload of any size never sits in memory; the small text fields are collected, all of them
// together within the server's body limit (--max-body).
import { Readable } from "node:stream";
import busboy from "busboy";
import type { BlobStore, ByteLimit, StagedBlob } from "./blobs.js";
import { ApiError } from "./http.js";

export interface Upload {
  fields: Map<string, string>;
  file?: { filename: string; staged: StagedBlob };
}

const MAX_FIELD_BYTES = 1024 * 1024;

/**
 * Reads a multipart body: the file within `limit`, the other fields together (names and values)
 * within `maxFieldBytes` (a 413 past it). The caller owns the staged file: it must commit or
 * discard it. On any error nothing is left in tmp/.
 */
export async function receiveUpload(
  headers: Record<string, string>,
  body: Readable,
  blobs: BlobStore,
  limit: ByteLimit,
  maxFieldBytes: number,
): Promise<Upload> {
  if (!/^multipart\/form-data\b/i.test(headers["content-type"] ?? "")) {
    body.resume();
    throw new ApiError(400, "parameter error", "the body must be multipart/form-data with a `file` part");
  }
  let parser: busboy.Busboy;
  try {
    // File names are UTF-8, as clients send them and Go's multipart reads them (busboy's default is latin1).
    // A field is held up to fieldSize (then cut, and refused below): no more than the limit of all.
    const fieldSize = Math.min(MAX_FIELD_BYTES, maxFieldBytes + 1);
    parser = busboy({ headers, defParamCharset: "utf8", limits: { fieldSize, fields: 50, files: 10 } });
  } catch (err) {
    body.resume();
    throw new ApiError(400, "invalid multipart body", (err as Error).message);
  }

  const fields = new Map<string, string>();
  let fieldBytes = 0;
  let staging: Promise<{ filename: string; staged: StagedBlob }> | undefined;
  const settled: Upload = { fields };

  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (err: unknown) => {
        body.unpipe(parser);
        // Ends a file part being staged, so stage() removes its temp file and closes it: after a
        // client hangs up, nothing else ever would.
        parser.destroy();
        body.resume(); // drain the rest so the response can still be read by the client
        reject(err);
      };
      parser.on("field", (name, value, info) => {
        fieldBytes += Buffer.byteLength(name) + Buffer.byteLength(value);
        if (fieldBytes > maxFieldBytes) {
          fail(
            new ApiError(
              413,
              "request body too large",
              `an upload's form fields together are limited to ${maxFieldBytes} bytes (the file part is not counted)`,
            ),
          );
        } else if (info.valueTruncated) fail(new ApiError(400, "parameter error", `field ${name} is larger than ${MAX_FIELD_BYTES} bytes`));
        else fields.set(name, value);
      });
      parser.on("file", (name, stream, info) => {
        if (name !== "file" || staging) {
          stream.resume();
          return;
        }
        // busboy gives the base name only (preservePath is off), as Go's multipart does.
        staging = blobs.stage(stream, limit).then((staged) => ({ filename: info.filename ?? "", staged }));
        staging.catch(fail);
      });
      parser.on("error", (err) => fail(new ApiError(400, "invalid multipart body", (err as Error).message)));
      parser.on("close", () => resolve());
      body.on("error", (err) => fail(new ApiError(400, "upload interrupted", err.message)));
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
