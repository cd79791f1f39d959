// Process and OS helpers: process trees and sessions (a dev server runs in its own), signals, ports,
// lines of output, PATH lookups. Imports nothing of ours.
import { accessSync, constants as fsConstants, readdirSync, readFileSync, statSync } from "node:fs";
import { connect } from "node:net";
import { constants } from "node:os";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

/**
 * Live (non-zombie) processes in session `sid`. A detached child is a session leader, so this is
 * everything it started, even processes that moved to another process group.
 */
export function sessionMembers(sid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    // No procfs (macOS): fall back to asking whether the process group still has members.
    return signalQuietly(-sid, 0) ? [sid] : [];
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.session === sid && stat.state !== "Z") members.push(Number(entry));
  }
  return members;
}

/** Fields of /proc/<pid>/stat that we use; undefined when the process is gone (or no procfs). */
export function readStat(pid: number): { state: string; session: number; startTime: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses: fields start after the last ")" (field 3).
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "", session: Number(fields[3]), startTime: fields[19] ?? "" };
  } catch {
    return undefined;
  }
}

/** Sends `signal` to a pid (or -pgid); false if nothing was there. */
export function signalQuietly(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Signals the whole session: its process group and every member that left it. */
export function signalSession(sid: number, signal: NodeJS.Signals): void {
  signalQuietly(-sid, signal);
  for (const pid of sessionMembers(sid)) signalQuietly(pid, signal);
}

/** Waits until session `sid` has no live process, up to `timeoutMs`. True if it is empty. */
export async function waitSessionEmpty(sid: number, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (sessionMembers(sid).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(pollMs);
  }
}

/**
 * Stops session `sid`: SIGTERM, then SIGKILL after `graceMs` or as soon as `hurry` resolves
 * (a second Ctrl-C). Resolves once no process of it is left.
 */
export async function stopSession(sid: number, graceMs: number, hurry?: Promise<unknown>): Promise<void> {
  signalSession(sid, "SIGTERM");
  const graceful = waitSessionEmpty(sid, graceMs);
  const done = await (hurry ? Promise.race([graceful, hurry.then(() => false)]) : graceful);
  if (done) return;
  // SIGKILL until empty: a dying parent may still fork in between.
  while (!(await waitSessionEmpty(sid, 500))) signalSession(sid, "SIGKILL");
}

/** True if something accepts TCP connections on host:port. */
export function portAnswers(port: number, host: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const finish = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
  });
}

/** A signal's number (SIGKILL → 9), for 128 + n exit codes; 1 when unknown. */
export function signalNumber(name: string | undefined): number {
  return constants.signals[name as keyof typeof constants.signals] ?? 1;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Calls `fn` for each line of `stream`; resolves when the stream ends. */
export function forEachLine(stream: Readable | null, fn: (line: string) => void): Promise<void> {
  if (!stream) return Promise.resolve();
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on("line", fn);
  return new Promise((resolve) => lines.once("close", resolve));
}

/** The last few lines of a process's output, for error messages. */
export class LineTail {
  private readonly lines: string[] = [];

  constructor(private readonly max: number) {}

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }

  /** `heading` and the lines indented, or "" when there were none. */
  format(heading: string): string {
    return this.lines.length ? `${heading}\n${this.lines.map((l) => `  ${l}`).join("\n")}` : "";
  }
}

/** The absolute path of an executable named `bin` on PATH, without spawning it. */
export function findOnPath(bin: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, bin);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}
