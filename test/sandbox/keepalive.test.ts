// Keepalive and idle expiry, the SandboxService's policy, on a clock the test moves by hand over
// real sandboxes of each backend: an idle sandbox dies exactly at its deadline and not a
// millisecond before, activity and extensions push the deadline out, a busy sandbox (a command
// running, a file moving) is never idled out, and deadlines weeks away are kept. Exec timeouts
// follow the same clock. No test waits for time to pass.
import { PassThrough, Readable } from "node:stream";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { SandboxBackend, SandboxLimits } from "../../src/sandbox/backend.js";
import { BACKENDS_UNDER_TEST } from "../helpers/backends.js";
import { ManualClock } from "../helpers/clock.js";
import { needs } from "../helpers/requirements.js";
import { serviceOver } from "../helpers/sandbox.js";

const LIMITS: SandboxLimits = { memoryBytes: 256 * 1024 ** 2, pids: 64, cpus: 0.5, diskBytes: 64 * 1024 ** 2 };
const SECOND = 1000;
const DAY = 86_400 * SECOND;
/** setTimeout's ceiling: a deadline further than this cannot be one timer. */
const TIMER_CEILING_MS = 2 ** 31 - 1;

for (const under of BACKENDS_UNDER_TEST) {
  const suite = needs(`keepalive and idle expiry on the ${under.name} backend, on a manual clock`, under.requirement);
  describe.skipIf(suite.skip)(suite.title, () => {
    let backend: SandboxBackend;
    let close: () => Promise<void>;
    let clock: ManualClock;
    let policy: ReturnType<typeof serviceOver>;
    const created: string[] = [];

    beforeAll(async () => {
      ({ backend, close } = await under.open());
    });
    afterAll(async () => {
      await close?.();
    });
    beforeEach(() => {
      clock = new ManualClock();
      policy = serviceOver(backend, {}, clock);
    });
    afterEach(async () => {
      for (const id of created.splice(0)) if ((await backend.status(id)) === "running") await backend.kill(id);
      await policy.close();
    });

    async function sandbox(keepaliveSeconds: number): Promise<string> {
      const id = await policy.create(LIMITS, { keepaliveSeconds });
      created.push(id);
      return id;
    }
    const expiresAt = async (id: string) => Date.parse((await policy.service.get(id)).sandbox_expires_at);
    const killLine = (id: string) => `sandbox ${id}: idle past its keepalive, killing it`;

    /** Alive: the service has not begun to kill it (that logs at once, as the deadline fires), and it runs. */
    async function expectAlive(id: string): Promise<void> {
      expect(policy.logs).not.toContain(killLine(id));
      expect((await policy.service.get(id)).sandbox_status).toBe("running");
      expect(await backend.status(id)).toBe("running");
    }
    /** Idled out: the deadline fired (logged at once), and the kill it began finishes. */
    async function expectIdledOut(id: string): Promise<void> {
      expect(policy.logs).toContain(killLine(id));
      await vi.waitFor(async () => expect((await policy.service.get(id)).sandbox_status).toBe("killed"), { timeout: 30_000, interval: 20 });
      expect(await backend.status(id)).toBe("gone");
    }

    /** Alive until the millisecond before `deadline`, idled out at it. */
    async function expectIdledOutAt(id: string, deadline: number): Promise<void> {
      clock.advanceTo(deadline - 1);
      await expectAlive(id);
      clock.advance(1);
      await expectIdledOut(id);
    }

    it("an idle sandbox dies exactly when its keepalive has passed, not a millisecond before", async () => {
      const start = clock.now();
      const id = await sandbox(60);
      expect(await expiresAt(id)).toBe(start + 60 * SECOND);
      await expectIdledOutAt(id, start + 60 * SECOND);
      expect(policy.logs).toEqual([killLine(id)]);
    });

    it("an extension pushes the deadline out from the current one", async () => {
      const start = clock.now();
      const id = await sandbox(60);
      clock.advance(30 * SECOND);
      const extended = await policy.service.extend(id, 60);
      expect(Date.parse(extended.sandbox_expires_at)).toBe(start + 120 * SECOND);
      await expectIdledOutAt(id, start + 120 * SECOND); // well past the first deadline
    });

    it("a sandbox running a command is not killed at its deadline; the command's end gives it a keepalive more", async () => {
      const id = await sandbox(60);
      const stdin = new PassThrough();
      let output = "";
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const exec = policy.service.exec(id, {
        command: "echo started; read line; echo got $line",
        stdin,
        timeoutSeconds: 3600,
        onOutput: (_stream, chunk) => {
          output += chunk.toString();
          if (output.includes("started")) started();
        },
      });
      await running;
      clock.advance(10 * 60 * SECOND); // ten keepalives, the command still running
      await expectAlive(id);
      stdin.end("done\n");
      expect(await exec).toEqual({ exitCode: 0, timedOut: false });
      expect(output).toBe("started\ngot done\n");
      await new Promise((resolve) => setImmediate(resolve)); // the exec's record and new deadline are written
      const ended = clock.now();
      expect(await expiresAt(id)).toBe(ended + 60 * SECOND);
      await expectIdledOutAt(id, ended + 60 * SECOND);
    });

    it("a sandbox with a file being written into it is not killed at its deadline; the transfer's end gives it a keepalive more", async () => {
      const id = await sandbox(60);
      let pulled!: () => void;
      const reading = new Promise<void>((resolve) => (pulled = resolve));
      const source = new Readable({ read: () => pulled() });
      const write = policy.service.writeFile(id, "/workspace/slow-upload.txt", source);
      await reading; // the backend is taking the file: the transfer is under way
      clock.advance(10 * 60 * SECOND);
      await expectAlive(id);
      source.push("arrived\n");
      source.push(null);
      await write;
      expect(await expiresAt(id)).toBe(clock.now() + 60 * SECOND);
      expect((await policy.run(id, "cat /workspace/slow-upload.txt")).stdout).toBe("arrived\n");
      // That exec was activity too: the deadline is a keepalive from its end (the clock stood still).
      await expectIdledOutAt(id, clock.now() + 60 * SECOND);
    });

    it("a deadline weeks away, past setTimeout's ceiling, is kept to the millisecond", async () => {
      const start = clock.now();
      const id = await sandbox(7 * 86_400);
      for (let week = 0; week < 3; week++) await policy.service.extend(id, 7 * 86_400);
      const deadline = start + 28 * DAY;
      expect(deadline - start).toBeGreaterThan(TIMER_CEILING_MS);
      expect(await expiresAt(id)).toBe(deadline);
      await expectIdledOutAt(id, deadline);
    });

    it("an exec's timeout is on the same clock: the command runs until it, then is killed (124)", async () => {
      const id = await sandbox(3600);
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const exec = policy.service.exec(id, {
        command: "echo started; exec sleep 1000",
        timeoutSeconds: 5,
        onOutput: (stream, chunk) => {
          if (stream === "stdout" && chunk.toString().includes("started")) started();
        },
      });
      await running;
      clock.advance(5 * SECOND - 1);
      // Still running: another exec finds it.
      expect((await policy.run(id, "pgrep -fx 'sleep 1000'")).exitCode).toBe(0);
      clock.advance(1);
      expect(await exec).toEqual({ exitCode: 124, timedOut: true });
      expect((await policy.run(id, "pgrep -fx 'sleep 1000'")).exitCode).toBe(1);
    });
  });
}
