// Length-prefixed frames: 1 type byte, a 4-byte big-endian length, the bytes. The exec agent's
// protocol uses them, and so does the body of an exec on a terminal (extension "exec-tty").

export function encodeFrame(type: string, data: Buffer | string): Buffer {
  const body = typeof data === "string" ? Buffer.from(data) : data;
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeUInt32BE(body.length, 1);
  return Buffer.concat([header, body]);
}

export class FrameTooLarge extends Error {}

/** Collects bytes as they come and hands out the complete frames. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxLength: number) {}

  /** The frames completed by `chunk`; throws FrameTooLarge for a length over the maximum. */
  push(chunk: Buffer): Array<{ type: string; data: Buffer }> {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Array<{ type: string; data: Buffer }> = [];
    while (this.pending.length >= 5) {
      const length = this.pending.readUInt32BE(1);
      if (length > this.maxLength) throw new FrameTooLarge(`a frame of ${length} bytes`);
      if (this.pending.length < 5 + length) break;
      frames.push({ type: String.fromCharCode(this.pending[0]!), data: this.pending.subarray(5, 5 + length) });
      this.pending = this.pending.subarray(5 + length);
    }
    return frames;
  }
}
