// An exec's output as the service passes it on: each stream up to its cap, then a marker once.

/**
 * Passes output on until `limit` per stream (bytes, or what `cost` counts for each byte), then drops
 * it (the command must not block) and says so once. `force` passes the service's own notes
 * whatever the count.
 */
export function cappedOutput(
  deliver: (stream: "stdout" | "stderr", chunk: Buffer) => void | Promise<void>,
  limit: number,
  cost?: Uint8Array,
  note = (stream: "stdout" | "stderr", bytes: number) => `\n[acontext: ${stream} truncated after ${bytes} bytes]\n`,
) {
  const seen = { stdout: 0, stderr: 0 };
  const marked = { stdout: false, stderr: false };
  return (stream: "stdout" | "stderr", chunk: Buffer, force = false): void | Promise<void> => {
    if (force) return deliver(stream, chunk);
    if (marked[stream]) return;
    const room = limit - seen[stream];
    const fits = cost ? fitting(chunk, room, cost) : { bytes: Math.min(chunk.length, Math.max(room, 0)), cost: Math.min(chunk.length, Math.max(room, 0)) };
    seen[stream] += fits.cost;
    if (fits.bytes === chunk.length) return deliver(stream, chunk);
    const pending = fits.bytes > 0 ? deliver(stream, chunk.subarray(0, fits.bytes)) : undefined;
    deliver(stream, Buffer.from(note(stream, limit)));
    marked[stream] = true;
    return pending;
  };
}

/** How many of `chunk`'s first bytes cost at most `room`, and what they cost. */
function fitting(chunk: Buffer, room: number, cost: Uint8Array): { bytes: number; cost: number } {
  let total = 0;
  for (let i = 0; i < chunk.length; i++) {
    const next = total + cost[chunk[i]!]!;
    if (next > room) return { bytes: i, cost: total };
    total = next;
  }
  return { bytes: chunk.length, cost: total };
}
