// A byte progress line on stderr, for terminals only: "name  12.0 MiB / 1 GiB  1%  85.3 MiB/s".

import { formatSize } from "../shared/units.js";
import type { Progress } from "../transfer/progress.js";

const SILENT: Progress = { file() {}, add() {}, end() {} };

export function createProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!enabled) return SILENT;
  let name = "";
  let total: number | undefined;
  let done = 0;
  let started = Date.now();
  let last = 0;
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const rate = done / Math.max((now - started) / 1000, 0.001);
    const size = total === undefined ? formatSize(done) : `${formatSize(done)} / ${formatSize(total)}  ${total ? Math.floor((done / total) * 100) : 100}%`;
    const line = `${name}  ${size}  ${formatSize(rate)}/s`;
    stream.write(`\r\x1b[2K${line.slice(0, (stream.columns || 80) - 1)}`);
  };
  return {
    file(next, size) {
      name = next;
      total = size;
      done = 0;
      started = Date.now();
      draw(true);
    },
    add(bytes) {
      done += bytes;
      draw();
    },
    end() {
      stream.write("\r\x1b[2K");
    },
  };
}
