// Time as the sandbox service sees it: what time it is, and running something later (keepalive
// deadlines, exec timeouts, transfer deadlines). The real one by default; tests pass a manual one
// and move time themselves, so expiry is tested to the millisecond without waiting for it.

export interface Clock {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
  /**
   * Runs `fn` once, `ms` from now (any length: no ceiling). Returns what cancels it. A pending
   * call never holds the process open by itself.
   */
  schedule(fn: () => void, ms: number): () => void;
}

/** setTimeout's ceiling (~24.8 days): a longer delay would fire at once, so it is waited for in parts. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const realClock: Clock = {
  now: () => Date.now(),
  schedule(fn, ms) {
    let timer: NodeJS.Timeout;
    const wait = (left: number) => {
      const part = Math.min(Math.max(left, 0), MAX_TIMER_MS);
      timer = setTimeout(() => (left > part ? wait(left - part) : fn()), part);
      timer.unref();
    };
    wait(ms);
    return () => clearTimeout(timer);
  },
};
