// The one interface every sandbox backend implements (local namespaces today). Small on purpose,
// and free of any backend's details. Policy (timeouts, output caps, transfer sizes and deadlines,
// keepalive) is not here: the server's SandboxService applies it once, for every backend.
import type { Readable } from "node:stream";
import type { Terminal } from "../protocol/terminal.js";

export type { Terminal };

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

/** What the host that runs a backend's sandboxes has: no one sandbox may ask for more (the server's service checks). */
export interface HostCapacity {
  /** Bytes of memory. */
  memoryBytes: number;
  /** Processes and threads the kernel allows in all (kernel.pid_max). */
  pids: number;
  /** CPUs. */
  cpus: number;
  /** Bytes one sandbox's writable disk can hold at most (the memory, where the disk is RAM-backed). */
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
  /** Streamed to the command's stdin, closed at its end. None: stdin is empty. */
  stdin?: Readable;
  /** Aborting it kills the command and everything it started, wherever it went in the sandbox. */
  signal?: AbortSignal;
  /** May return a promise: that stream of the command is paused until it settles (backpressure). */
  onOutput?: (stream: "stdout" | "stderr", chunk: Buffer) => void | Promise<void>;
  /** Run on a pseudo-terminal: all output comes as "stdout", stdin is what the user types. */
  tty?: Terminal;
}

/** A regular file found under a sandbox folder: its path relative to it, as the sandbox names it (any bytes). */
export interface TreeEntry {
  path: Buffer;
  size: number;
}

/** What a path in a sandbox names. */
export type PathKind = "file" | "dir" | "other" | "missing";

export type FileErrorCode = "not-found" | "not-regular" | "is-directory" | "not-directory" | "denied" | "no-space" | "failed";

/** A file operation inside a sandbox failed for a reason the caller can act on. */
export class SandboxFileError extends Error {
  constructor(
    readonly code: FileErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "SandboxFileError";
  }
}

export interface SandboxBackend {
  /** Its name in configuration and in the API's records (`backend_type`). */
  readonly name: string;
  /** What it can do beyond the seam's minimum; the server's extension list follows it. */
  readonly capabilities: { tty: boolean };
  /** How sandboxes are kept apart from the host and each other, in a few words. */
  readonly isolation: string;
  /** Why `network: true` cannot be had here, if it cannot. */
  readonly networkUnavailable: string | undefined;
  /** What `network: true` gives and keeps out of reach, in a sentence (for the server's status). */
  readonly networkDescription: string;
  /** Each limit and how it is enforced here, e.g. { memory: "cgroup", cpu: "not enforced (…)" }. */
  readonly limits: Record<string, string>;
  /** What a sandbox asks for but does not get here, a sentence each (empty when every limit holds for the whole sandbox). */
  readonly caveats: string[];
  /** The host's capacity, asked before each create. */
  capacity(): Promise<HostCapacity>;
  create(options: CreateOptions): Promise<void>;
  /** The command's exit code (128 + N for signal N), or null when the command was lost (its helper died). */
  exec(id: string, options: ExecOptions): Promise<number | null>;
  /**
   * A regular file's size and bytes, read inside the sandbox (paths resolve in its root, never on
   * the host). Anything else (a FIFO, a device) is a SandboxFileError "not-regular". Destroying
   * the stream or aborting `signal` stops the read.
   */
  readFile(id: string, path: string, signal?: AbortSignal): Promise<{ size: number; stream: Readable }>;
  /** Writes a regular file inside the sandbox (parents created) from a stream. */
  writeFile(id: string, path: string, source: Readable, signal?: AbortSignal): Promise<void>;
  /**
   * The regular files under a sandbox folder, in batches as they are found; symbolic links are
   * neither followed nor listed. Unchecked: what a sandbox names is hostile, so callers bound the
   * count and check every name. Stopping the iteration stops the listing.
   */
  listFiles(id: string, dir: string, signal?: AbortSignal): AsyncIterable<TreeEntry[]>;
  /** What is at `path` inside the sandbox (symbolic links followed there, never on the host). */
  stat(id: string, path: string, signal?: AbortSignal): Promise<PathKind>;
  /** Whether the sandbox still runs (asked of the backend: a remote one answers asynchronously). */
  status(id: string): Promise<"running" | "gone">;
  /** Removes every process and every byte of the sandbox. */
  kill(id: string): Promise<void>;
  /** Kills every sandbox (server shutdown). */
  killAll(): Promise<void>;
  /**
   * After a restart: of the sandboxes the server's records say were running, which this backend
   * still runs and takes back (a container engine's can outlive the server). Everything else an
   * earlier server left is removed.
   */
  reconcile(ids: string[]): Promise<string[]>;
}
