// The real Clock the SandboxService runs on: Date.now, and setTimeout without its ~24.8-day
// ceiling (past it, a bare setTimeout fires at once; vitest's fake timers do the same, so the
// long cases move fake time instead of waiting).
import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_TIMER_MS, realClock } from "../../src/server/clock.js";

const DAY = 86_400_000;

describe("the real clock", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("tells the time as Date.now does", () => {
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 1) });
    expect(realClock.now()).toBe(Date.UTC(2030, 0, 1));
    vi.advanceTimersByTime(1234);
    expect(realClock.now()).toBe(Date.UTC(2030, 0, 1) + 1234);
  });

  it.each([
    ["no time", 0],
    ["a minute", 60_000],
    ["exactly the ceiling", MAX_TIMER_MS],
    ["one past the ceiling", MAX_TIMER_MS + 1],
    ["28 days", 28 * DAY],
    ["a year", 365 * DAY],
  ])("runs a call %s from now at that time, once, and not before", (_name, ms) => {
    vi.useFakeTimers();
    const fired = vi.fn();
    realClock.schedule(fired, ms);
    if (ms > 0) {
      vi.advanceTimersByTime(ms - 1);
      expect(fired).not.toHaveBeenCalled();
    }
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(2 * MAX_TIMER_MS);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it("a cancelled call never runs, also when cancelled after the first ceiling's worth of waiting", () => {
    vi.useFakeTimers();
    const early = vi.fn();
    const late = vi.fn();
    realClock.schedule(early, 60_000)();
    const cancelLate = realClock.schedule(late, 60 * DAY);
    vi.advanceTimersByTime(30 * DAY);
    cancelLate();
    vi.advanceTimersByTime(60 * DAY);
    expect(early).not.toHaveBeenCalled();
    expect(late).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("on real timers, runs a call and does not hold the process open while it waits", async () => {
    const fired = await new Promise<boolean>((resolve) => realClock.schedule(() => resolve(true), 0));
    expect(fired).toBe(true);
    // An unref'd timer: a pending deadline alone never keeps a server's process alive.
    const hasRef = vi.spyOn(globalThis, "setTimeout");
    const cancel = realClock.schedule(() => {}, DAY);
    const timer = hasRef.mock.results[0]!.value as NodeJS.Timeout;
    hasRef.mockRestore();
    expect(timer.hasRef()).toBe(false);
    cancel();
  });
});
