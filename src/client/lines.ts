// The lines of a byte stream (the exec route's NDJSON). Not node:readline: loading it costs
// ~1.5 ms of every `sandbox exec`.

/** A line longer than the reader takes: the stream is not what it should be (our server's lines are ~90 KB). */
export class LineTooLongError extends Error {
  constructor(readonly maxBytes: number) {
    super(`a line longer than ${maxBytes} bytes`);
    this.name = "LineTooLongError";
  }
}

/**
 * Yields each line without its "\n" (or "\r\n"); a last line without one too. A line that passes
 * `maxBytes` is a LineTooLongError as soon as it does (never held whole).
 */
export async function* lines(stream: AsyncIterable<Uint8Array>, maxBytes = Infinity): AsyncGenerator<string> {
  // A line's pieces are kept apart and joined once: a long line arrives in many chunks.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const take = (last: Buffer) => {
    const line = pending.length ? Buffer.concat([...pending, last]) : last;
    pending = [];
    pendingBytes = 0;
    return line.toString("utf8", 0, line.length - (line[line.length - 1] === 13 ? 1 : 0));
  };
  for await (const piece of stream) {
    const chunk = Buffer.isBuffer(piece) ? piece : Buffer.from(piece);
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      if (pendingBytes + newline - start > maxBytes) throw new LineTooLongError(maxBytes);
      yield take(chunk.subarray(start, newline));
      start = newline + 1;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > maxBytes) throw new LineTooLongError(maxBytes);
    }
  }
  if (pending.length) yield take(Buffer.alloc(0));
}
