// Running commands in sandboxes from a test, with their output collected: straight through a
// backend, or through the SandboxService, which adds the policy (timeouts, output caps, transfer
// limits) every backend gets.
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { expect } from "vitest";
import type { SandboxBackend, SandboxLimits } from "../../src/sandbox/backend.js";
import type { Clock } from "../../src/server/clock.js";
import { openDatabase } from "../../src/server/db.js";
import { DEFAULT_POLICY, type SandboxPolicy, SandboxService } from "../../src/server/sandboxes.js";
import { shellQuote } from "../../src/shared/units.js";

export async function execIn(backend: SandboxBackend, id: string, command: string, options: { stdin?: Readable; signal?: AbortSignal } = {}) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const exitCode = await backend.exec(id, {
    command,
    ...options,
    onOutput: (stream, chunk) => {
      (stream === "stdout" ? out : err).push(chunk);
    },
  });
  return { exitCode, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/**
 * A SandboxService over `backend` with a throwaway database (and `clock`, the real one by default);
 * `close` after the backend's sandboxes are gone. `logs` has what the service logged.
 */
export function serviceOver(backend: SandboxBackend, policy: Partial<SandboxPolicy> = {}, clock?: Clock) {
  const dir = mkdtempSync(join(tmpdir(), "acontext-test-db-"));
  const db = openDatabase(join(dir, "acontext.db"));
  const logs: string[] = [];
  const service = new SandboxService(db, backend, "test", (line) => logs.push(line), { ...DEFAULT_POLICY, ...policy }, clock);
  return {
    service,
    logs,
    async create(limits: SandboxLimits, { keepaliveSeconds = 3600, network = false } = {}): Promise<string> {
      return (await service.create({ keepaliveSeconds, network, limits })).sandbox_id;
    },
    async run(id: string, command: string, options: { stdin?: Readable; timeoutSeconds?: number; maxOutputBytes?: number } = {}) {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const result = await service.exec(id, {
        command,
        stdin: options.stdin,
        timeoutSeconds: options.timeoutSeconds ?? 300,
        maxOutputBytes: options.maxOutputBytes,
        onOutput: (stream, chunk) => {
          (stream === "stdout" ? out : err).push(chunk);
        },
      });
      return { ...result, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
    },
    async close() {
      await new Promise((resolve) => setImmediate(resolve)); // the last exec's record is written
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The pid namespace of host process `pid` (as /proc names it), or undefined once it is gone. */
export function pidNamespaceOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** Host processes in pid namespace `namespace`: a sandbox's processes, as the host sees them. */
export function processesInNamespace(namespace: string): number {
  return hostPids().filter((pid) => pidNamespaceOf(pid) === namespace).length;
}

/**
 * Host processes whose mount table mentions `text` (a sandbox's folder): a sandbox's mounts live
 * in its own mount namespace, never in the host's, so looking at the test's own table shows nothing.
 */
export function mountTablesMentioning(text: string): number {
  return hostPids().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/mountinfo`, "utf8").includes(text);
    } catch {
      return false; // gone meanwhile
    }
  }).length;
}

function hostPids(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

const FORK_UNTIL_REFUSED = readFileSync(new URL("../fixtures/fork-until-refused.py", import.meta.url), "utf8");

/** Forks sleeps in a sandbox until a fork is refused (at most `most`): how many it started, and the sandbox's processes then. */
export async function forkUntilRefused(run: (command: string) => Promise<{ stdout: string; stderr: string }>, most: number) {
  const counted = await run(`python3 -c ${shellQuote(FORK_UNTIL_REFUSED)} ${most}`);
  expect(counted.stdout, counted.stderr).toMatch(/^\d+ \d+\n$/);
  const [started, processes] = counted.stdout.trim().split(" ").map(Number) as [number, number];
  return { started, processes };
}
