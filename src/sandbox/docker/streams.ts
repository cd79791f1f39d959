// The engine's exec streams: stdin in, the multiplexed output out, at the reader's pace.
import type { Readable, Writable } from "node:stream";

/** Until `stream` takes more, or closes; no listener is left behind either way. */
export function drainedOrClosed(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done).off("close", done);
      resolve();
    };
    stream.on("drain", done).on("close", done);
  });
}

/** Stdin into an exec's stream, then its write side closed (the command sees end of file). */
export function feed(stream: NodeJS.ReadWriteStream & { end(): void }, stdin: Readable | undefined): void {
  if (!stdin) {
    stream.end();
    return;
  }
  stdin.pipe(stream as unknown as Writable);
  stdin.once("error", () => stream.end());
}

/**
 * The engine's multiplexed stream (8-byte headers: stream 1 or 2, then a 4-byte length) split
 * into stdout and stderr, at the pace `onOutput` takes it (its promise pauses the reading).
 * Frames are handed on as views of what was read, never copied; only a frame split across reads
 * is joined.
 */
export async function demultiplex(
  stream: AsyncIterable<unknown> | Iterable<unknown>,
  onOutput: (kind: "stdout" | "stderr", chunk: Buffer) => void | Promise<void>,
): Promise<void> {
  let pending: Buffer | undefined;
  for await (const read of stream) {
    const chunk = pending ? Buffer.concat([pending, read as Buffer]) : (read as Buffer);
    pending = undefined;
    let at = 0;
    while (chunk.length - at >= 8) {
      const length = chunk.readUInt32BE(at + 4);
      if (chunk.length - at < 8 + length) break;
      const kind = chunk[at] === 2 ? "stderr" : "stdout";
      if (length) await onOutput(kind, chunk.subarray(at + 8, at + 8 + length));
      at += 8 + length;
    }
    if (at < chunk.length) pending = chunk.subarray(at);
  }
}
