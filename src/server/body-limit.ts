// The bound on request bodies that routes read into memory (JSON, forms). Each body is read here
// first, counting bytes as they arrive, and refused with a 413 as soon as it passes the limit — a
// declared Content-Length past it before a byte is read. What is left unread is drained and the
// connection closed by @hono/node-server (at most 64 MiB or 500 ms), never kept.
import type { Readable } from "node:stream";
import type { MiddlewareHandler } from "hono";
import { RAW_STDIN, TERMINAL_BODY } from "../protocol/exec.js";
import { ApiError, type AppEnv } from "./http.js";
import { requestBody } from "./multipart.js";

export function bodyLimit(maxBytes: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { method, path } = c.req;
    if (method === "GET" || method === "HEAD" || streamsItsBody(method, path, c.req.header("content-type") ?? "")) return next();
    const tooLarge = () => new ApiError(413, "request body too large", `the limit is ${maxBytes} bytes`);
    if (Number(c.req.header("content-length")) > maxBytes) throw tooLarge();
    const body = await readAtMost(
      requestBody(c.env?.incoming as Readable | undefined, () => c.req.raw.body),
      maxBytes,
    );
    if (!body) throw tooLarge();
    // The routes read the body from the request as usual: these bytes, already read.
    c.req.raw = new Request(c.req.raw, { body });
    await next();
  };
}

/**
 * Routes that stream their bodies under bounds of their own: the artifact upload (multipart into
 * the blob store, --max-upload), exec with stdin as the raw body (routes/sandboxes.ts reads these
 * two content types as a stream, for as long as the command runs), and a file written into a
 * sandbox (its disk size and the transfer deadline).
 */
function streamsItsBody(method: string, path: string, contentType: string): boolean {
  if (method === "PUT") return /^\/api\/v1\/sandbox\/[^/]+\/file\/?$/.test(path);
  if (method !== "POST") return false;
  if (/^\/api\/v1\/disk\/[^/]+\/artifact\/?$/.test(path)) return true;
  const type = contentType.toLowerCase();
  return /^\/api\/v1\/sandbox\/[^/]+\/exec\/?$/.test(path) && (type.startsWith(RAW_STDIN) || type.startsWith(TERMINAL_BODY));
}

/** The whole body, or undefined as soon as it passes `maxBytes` (the rest is left unread). */
function readAtMost(body: Readable, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (outcome: () => void) => {
      body.off("data", onData).off("end", onEnd).off("error", onInterrupted).off("close", onInterrupted);
      outcome();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else {
        body.pause();
        settle(() => resolve(undefined));
      }
    };
    const onEnd = () => settle(() => resolve(Buffer.concat(chunks, size)));
    // A client that hangs up mid-body: nobody reads the answer, but the log says what happened.
    const onInterrupted = (err?: Error) => settle(() => reject(new ApiError(400, "request body interrupted", err?.message)));
    body.on("data", onData).once("end", onEnd).once("error", onInterrupted).once("close", onInterrupted);
  });
}
