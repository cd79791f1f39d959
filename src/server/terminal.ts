// The body of an exec on a terminal (extension "exec-tty"): frames (protocol/frames.ts) of typed
// input ("i") and the terminal's new size ("w", "ROWS COLS"), as the CLI sends them while the
// command runs.
import { once } from "node:events";
import { PassThrough, type Readable } from "node:stream";
import { FrameDecoder } from "../protocol/frames.js";
import type { Terminal } from "../protocol/terminal.js";

const MAX_FRAME = 1024 * 1024;
export const MAX_TERMINAL_SIDE = 10_000;

/** A terminal size, if `rows` and `cols` are whole numbers from 1 to MAX_TERMINAL_SIDE. */
export function terminalSize(rows: unknown, cols: unknown): { rows: number; cols: number } | undefined {
  const valid = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_TERMINAL_SIDE;
  return valid(rows) && valid(cols) ? { rows, cols } : undefined;
}

/** A resize frame's "ROWS COLS". */
export function parseTerminalSize(text: string): { rows: number; cols: number } | undefined {
  const match = /^(\d{1,5}) (\d{1,5})$/.exec(text);
  return match ? terminalSize(Number(match[1]), Number(match[2])) : undefined;
}

/** Splits the body into the command's stdin and the terminal's resizes. */
export function terminalInput(body: Readable, size: { rows: number; cols: number }): { stdin: Readable; terminal: Terminal } {
  const stdin = new PassThrough();
  let resized: ((size: { rows: number; cols: number }) => void) | undefined;
  // A resize that comes before the command has started is kept and handed over when it has.
  let latest: { rows: number; cols: number } | undefined;
  (async () => {
    const decoder = new FrameDecoder(MAX_FRAME);
    for await (const chunk of body) {
      for (const { type, data } of decoder.push(chunk as Buffer)) {
        if (type === "i" && data.length && !stdin.write(data)) await once(stdin, "drain");
        if (type === "w") {
          const next = parseTerminalSize(data.toString());
          if (next) {
            latest = next;
            resized?.(next);
          }
        }
      }
    }
    stdin.end();
  })().catch((err: Error) => stdin.destroy(err));
  const onResize = (listener: (size: { rows: number; cols: number }) => void) => {
    resized = listener;
    if (latest) listener(latest);
  };
  return { stdin, terminal: { ...size, onResize } };
}
