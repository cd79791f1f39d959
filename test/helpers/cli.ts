// Helpers for tests that run the built CLI as a user would: a real process, real files, real ports.
import { readFileSync } from "node:fs";
import { chmod, cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterEach } from "vitest";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CLI = join(ROOT, "bin", "acontext.js");
export const FIXTURES = join(ROOT, "test", "fixtures");

/** Temp folders removed after each test of the file that calls this. */
export function useTempDirs(): () => Promise<string> {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), "acontext-test-"));
    dirs.push(dir);
    return dir;
  };
}

export interface RunOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Folders put first on PATH (stub binaries). */
  path?: string[];
  input?: string | Uint8Array;
}

function envFor(options: RunOptions): NodeJS.ProcessEnv {
  const env = { ...process.env, ...options.env };
  if (options.path) env.PATH = [...options.path, env.PATH].join(delimiter);
  return env;
}

/** Runs the CLI to completion. */
export function runCli(args: string[], options: RunOptions) {
  return execa(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: envFor(options),
    extendEnv: false,
    reject: false,
    input: options.input ?? "",
  });
}

/** Starts the CLI and leaves it running; the caller ends it and awaits it. */
export function spawnCli(args: string[], options: RunOptions) {
  return execa(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: envFor(options),
    extendEnv: false,
    reject: false,
    buffer: false,
    stdin: "ignore",
  });
}

/** Collects a stream's lines and resolves when one matches. */
export function lineWatcher(stream: Readable) {
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  let closed = false;
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  rl.on("line", (line) => {
    lines.push(line);
    for (const w of waiters.filter((w) => w.pattern.test(line))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(line);
    }
  });
  const done = new Promise<void>((resolve) =>
    rl.once("close", () => {
      closed = true;
      resolve();
    }),
  );
  return {
    lines,
    done,
    /** Resolves with the first line matching `pattern`; rejects if the stream ends first. */
    waitFor(pattern: RegExp): Promise<string> {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      if (closed) return Promise.reject(new Error(`stream ended without ${pattern}:\n${lines.join("\n")}`));
      return new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        done.then(() => reject(new Error(`stream ended without ${pattern}:\n${lines.join("\n")}`)));
      });
    },
    text: () => lines.join("\n"),
  };
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  // Below the kernel's ephemeral range: a port found free and let go cannot then be handed to
  // some other process that binds port 0 (a server of a test running beside this one), as one
  // from inside the range could before its user binds it.
  const [ephemeralStart] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number) as [number];
  const low = Math.min(20_000, ephemeralStart - 2_000);
  for (;;) {
    const port = low + Math.floor(Math.random() * (ephemeralStart - low));
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (!bound) continue;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }
}

/** Writes an executable shell script `name` into `dir`. */
export async function stubBin(dir: string, name: string, script: string): Promise<void> {
  const file = join(dir, name);
  await writeFile(file, `#!/bin/sh\n${script}\n`);
  await chmod(file, 0o755);
}

/** Copies a fixture project into `dest`. */
export async function copyFixture(name: string, dest: string): Promise<void> {
  await cp(join(FIXTURES, name), dest, { recursive: true });
}

/** Whether a process exists and is not a zombie. */
export async function isAlive(pid: number): Promise<boolean> {
  const { readFile } = await import("node:fs/promises");
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
