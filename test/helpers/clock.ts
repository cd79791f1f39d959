// A clock a test moves by hand (the SandboxService's Clock): nothing it schedules runs until the
// test advances time past it, and then at exactly its time, in order.
import type { Clock } from "../../src/server/clock.js";

interface Pending {
  due: number;
  order: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  private at: number;
  private made = 0;
  private readonly pending = new Set<Pending>();

  /** Starts at `start` (ms since the epoch): a fixed instant, so expiry times are exact. */
  constructor(start = Date.UTC(2030, 0, 1)) {
    this.at = start;
  }

  now(): number {
    return this.at;
  }

  schedule(fn: () => void, ms: number): () => void {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`scheduled ${ms} ms from now`);
    const entry = { due: this.at + ms, order: this.made++, fn };
    this.pending.add(entry);
    return () => this.pending.delete(entry);
  }

  /** Moves time `ms` forward, running what comes due on the way, each at its time (what they schedule too). */
  advance(ms: number): void {
    const end = this.at + ms;
    for (;;) {
      const next = [...this.pending].filter((p) => p.due <= end).sort((a, b) => a.due - b.due || a.order - b.order)[0];
      if (!next) break;
      this.pending.delete(next);
      this.at = next.due;
      next.fn();
    }
    this.at = end;
  }

  /** Moves time to `instant` (ms since the epoch). */
  advanceTo(instant: number): void {
    if (instant < this.at) throw new RangeError("a clock does not go back");
    this.advance(instant - this.at);
  }

  /** Calls scheduled and not yet run or cancelled. */
  get scheduled(): number {
    return this.pending.size;
  }
}
