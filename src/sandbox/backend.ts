// The one interface every sandbox backend implements (local namespaces today; Cloudflare next).
// Small on purpose, and free of any backend's details.
import type { Readable } from "node:stream";

export interface SandboxLimits {
  /** Bytes of memory (RAM + the writable layer when it is RAM-backed). */
  memoryBytes: number;
  /** Processes and threads. */
  pids: number;
  /** CPUs' worth of time per second, e.g. 1 or 0.5. */
  cpus: number;
  /** Bytes of writable disk. */
  diskBytes: number;
}

export interface CreateOptions {
  id: string;
  network: boolean;
  limits: SandboxLimits;
}

export interface ExecOptions {
  command: string;
  /** Default /workspace. */
  cwd?: string;
  env?: Record<string, string>;
  /** Wall-clock limit; on expiry everything the exec started is killed (exit code 124). */
  timeoutMs?: number;
  /** Streamed to the command's stdin, closed at its end. None: stdin is empty. */
  stdin?: Readable;
  /** Captured output is cut after this many bytes per stream (with a marker). */
  maxOutputBytes?: number;
  signal?: AbortSignal;
  /** May return a promise: that stream of the command is paused until it settles (backpressure). */
  onOutput?: (stream: "stdout" | "stderr", chunk: Buffer) => void | Promise<void>;
  /** Run on a pseudo-terminal: all output comes as "stdout", stdin is what the user types. */
  tty?: Terminal;
}

export interface Terminal {
  rows: number;
  cols: number;
  /** Registers for the terminal's later sizes, as the user resizes the window (the last listener registered gets them). */
  onResize?: (listener: (size: { rows: number; cols: number }) => void) => void;
}

export interface ExecResult {
  exitCode: number;
  timedOut: boolean;
}

export interface SandboxBackend {
  readonly name: string;
  /** How sandboxes are kept apart from the host and each other, in a few words. */
  readonly isolation: string;
  /** Why `network: true` cannot be had here, if it cannot. */
  readonly networkUnavailable: string | undefined;
  /** Each limit and how it is enforced here, e.g. { memory: "cgroup", cpu: "not enforced (…)" }. */
  readonly limits: Record<string, string>;
  create(options: CreateOptions): Promise<void>;
  exec(id: string, options: ExecOptions): Promise<ExecResult>;
  /** A file's bytes, read inside the sandbox (paths resolve in its root, never on the host). */
  readFile(id: string, path: string): Promise<Readable>;
  /** Writes a file inside the sandbox (parents created), from a stream. */
  writeFile(id: string, path: string, source: Readable): Promise<void>;
  isRunning(id: string): boolean;
  /** Removes every process and every byte of the sandbox. */
  kill(id: string): Promise<void>;
  /** Kills every sandbox (server shutdown). */
  killAll(): Promise<void>;
  /** Cleans up after sandboxes of an earlier server process; returns their ids. */
  sweep(): Promise<string[]>;
}
