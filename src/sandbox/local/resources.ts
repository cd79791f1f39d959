// What a local sandbox holds on the host besides its processes: a uid range (as root), cgroups
// (where there are v1 controllers), and its state folder; taken here, and given back.
import { mkdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { signalQuietly, sleep } from "../../shared/processes.js";
import type { SandboxLimits } from "../backend.js";

/** Sandbox uid ranges start here, far from /etc/subuid ranges (podman uses 100000+). */
const UID_BASE = 1_000_000;
export const UID_RANGE = 65_536;
/** Ranges must end below 2^32 - 1. */
const MAX_INDEX = Math.floor((2 ** 32 - 1 - UID_BASE) / UID_RANGE) - 1;

export const CGROUP_V1_CONTROLLERS = ["memory", "pids", "cpu", "freezer"] as const;

/** The first host uid of range `index`. */
export function firstUid(index: number): number {
  return UID_BASE + index * UID_RANGE;
}

/**
 * A uid range no other sandbox on the machine uses, claimed with an exclusive file in `claims`
 * (servers of other data dirs share the machine's ranges). The index is also kept in the
 * sandbox's folder, so a sweep after a crash can release it.
 */
export async function claimUidRange(claims: string, dir: string): Promise<number> {
  for (let index = 1; index < MAX_INDEX; index++) {
    try {
      await writeFile(join(claims, String(index)), dir, { flag: "wx" });
      await writeFile(join(dir, "uid-index"), String(index));
      return index;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  throw new Error("no free uid range for another sandbox");
}

export async function releaseUidRange(claims: string, index: number): Promise<void> {
  if (index) await rm(join(claims, String(index)), { force: true });
}

/** The range a sandbox's folder says it held (0: none). */
export async function claimedUidRange(dir: string): Promise<number> {
  return Number(await readFile(join(dir, "uid-index"), "utf8").catch(() => "0"));
}

/** The cgroups of sandbox `key` under `root`, one per v1 controller. */
export function cgroupsOf(root: string, key: string): string[] {
  return CGROUP_V1_CONTROLLERS.map((controller) => join(root, controller, "acontext", key));
}

export async function createCgroups(root: string, key: string, limits: SandboxLimits): Promise<string[]> {
  const dirs = cgroupsOf(root, key);
  for (const dir of dirs) await mkdir(dir, { recursive: true });
  const [memory, pids, cpu] = dirs as [string, string, string, string];
  await writeFile(join(memory, "memory.limit_in_bytes"), String(limits.memoryBytes));
  await writeFile(join(pids, "pids.max"), String(limits.pids));
  await writeFile(join(cpu, "cpu.cfs_period_us"), "100000");
  await writeFile(join(cpu, "cpu.cfs_quota_us"), String(Math.round(limits.cpus * 100_000)));
  return dirs;
}

/** Removes a sandbox's cgroups and its state folder, once its processes are gone. */
export async function removeSandboxFiles(dir: string, cgroups: string[]): Promise<void> {
  const busy: string[] = [];
  for (const cgroup of cgroups) {
    // v1 cgroups stay busy for a moment after their last task exits; a straggler (a process
    // that was exiting as PID 1 died) is killed, and one that still holds the cgroup is reported.
    for (let attempt = 1; ; attempt++) {
      try {
        await rmdir(cgroup);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT") break;
        if (code !== "EBUSY") throw err;
        if (attempt % 100 === 0) {
          const procs = await readFile(join(cgroup, "cgroup.procs"), "utf8").catch(() => "");
          for (const pid of procs.split("\n").filter(Boolean)) signalQuietly(Number(pid), "SIGKILL");
        }
        if (attempt === 2500) {
          busy.push(cgroup);
          break;
        }
        await sleep(2);
      }
    }
  }
  await rm(dir, { recursive: true, force: true });
  if (busy.length) throw new Error(`cgroups still busy after their sandbox ended: ${busy.join(", ")}`);
}
