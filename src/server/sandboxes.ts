// Sandboxes as the API sees them: records in SQLite (history, keepalive, status) over a backend
// that runs them, and the policy every backend gets alike: what may enter a sandbox (sizes, no
// NUL), exec timeouts (124) and output caps, transfer deadlines, bounded listings with every
// reported name checked, busy sandboxes never idled out. Idle sandboxes die after their
// keepalive; a restarted server marks the ones it can no longer reach as killed (their processes
// died with the old server).
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { type PathKind, type SandboxBackend, SandboxFileError, type SandboxLimits, type Terminal } from "../sandbox/backend.js";
import type { ByteLimit } from "./blobs.js";
import { type Clock, realClock } from "./clock.js";
import { type PageOptions, queryPage } from "./cursor.js";
import { type Db, statement } from "./db.js";
import { cappedOutput } from "./exec-output.js";
import { SandboxHistory } from "./history.js";
import { ApiError } from "./http.js";
import { checkExecInput, checkReportedPath, checkSandboxPath } from "./sandbox-input.js";

export const DEFAULT_LIMITS: SandboxLimits = {
  memoryBytes: 2 * 1024 ** 3,
  pids: 512,
  cpus: 1,
  diskBytes: 1024 ** 3,
};

export interface SandboxPolicy {
  /** One file moved in or out, or one listing, must be done within this (a stalled sandbox cannot hold a request). */
  transferTimeoutMs: number;
  /** Files in one listing (a recursive transfer): more is a 400, not a server holding a sandbox's whole tree. */
  maxListedFiles: number;
  /** Entries of a sandbox's history kept (commands, and files it produced, each): the latest. */
  maxHistoryEntries: number;
  /** Sandboxes running at once, server-wide: one more is a 429. */
  maxSandboxes: number;
}

export const DEFAULT_POLICY: SandboxPolicy = { transferTimeoutMs: 30 * 60_000, maxListedFiles: 10_000, maxHistoryEntries: 1000, maxSandboxes: 64 };

/** One sandbox may ask for at most this share of the host's processes (kernel.pid_max): the host and the other sandboxes keep the rest. */
const PID_SHARE = 0.5;

/** A page of GET /sandbox/logs stops at this many bytes of JSON (at least one sandbox), whatever its limit. */
const MAX_LOGS_PAGE_BYTES = 8 * 1024 * 1024;

export interface ExecResult {
  exitCode: number;
  timedOut: boolean;
}

interface Row {
  id: string;
  backend: string;
  status: "running" | "killed";
  keepalive_seconds: number;
  expires_ms: number;
  created_us: number;
  created_at: string;
  updated_at: string;
  killed_at: string | null;
}

export interface ExecSpec {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutSeconds: number;
  stdin?: Readable;
  tty?: Terminal;
  /** Output kept per stream, then a marker; counted in bytes, or as `outputCost` counts them. */
  maxOutputBytes?: number;
  /** What each byte value costs against `maxOutputBytes` (e.g. the bytes it becomes in a JSON string); 1 each by default. */
  outputCost?: Uint8Array;
  /** The marker put after a stream's kept output; by default it says how many bytes were kept. */
  truncatedNote?: (stream: "stdout" | "stderr", limit: number) => string;
  signal?: AbortSignal;
  onOutput?: (stream: "stdout" | "stderr", chunk: Buffer) => void | Promise<void>;
}

export class SandboxService {
  /** Each running sandbox's idle deadline: what cancels it. */
  private readonly timers = new Map<string, () => void>();
  /** Commands running per sandbox: a busy sandbox is never idle. */
  private readonly busy = new Map<string, number>();
  private lastUs = 0;
  /** Creates under way (they count against maxSandboxes before their rows exist). */
  private creating = 0;
  private readonly history: SandboxHistory;

  constructor(
    private readonly db: Db,
    readonly backend: SandboxBackend,
    private readonly projectId: string,
    private readonly log: (line: string) => void,
    readonly policy: SandboxPolicy = DEFAULT_POLICY,
    private readonly clock: Clock = realClock,
  ) {
    this.history = new SandboxHistory(db, policy.maxHistoryEntries);
  }

  /** After a restart: the backend takes back what still runs; the rest is marked killed. */
  async init(): Promise<void> {
    const recorded = (this.db.prepare("SELECT id FROM sandboxes WHERE status = 'running'").all() as { id: string }[]).map((row) => row.id);
    const adopted = new Set(await this.backend.reconcile(recorded));
    const now = this.isoNow();
    const mark = this.db.prepare("UPDATE sandboxes SET status = 'killed', killed_at = ?, updated_at = ? WHERE id = ?");
    const lost = recorded.filter((id) => !adopted.has(id));
    for (const id of lost) mark.run(now, now, id);
    for (const id of adopted) {
      const row = this.row(id)!;
      this.arm(id, row.expires_ms - this.clock.now());
    }
    if (recorded.length) this.log(`sandboxes of an earlier run: ${adopted.size} taken back, ${lost.length} marked killed`);
  }

  /** A new sandbox; limits not given are the defaults (within the host), given ones beyond the host are a 400. */
  async create(options: { keepaliveSeconds: number; network: boolean; limits: Partial<SandboxLimits> }) {
    const { running } = this.counts();
    if (running + this.creating >= this.policy.maxSandboxes) {
      throw new ApiError(
        429,
        "too many sandboxes running",
        `this server runs at most ${this.policy.maxSandboxes} sandboxes at once (--max-sandboxes); kill one first`,
      );
    }
    const id = randomUUID();
    this.creating++;
    try {
      const limits = await this.limitsFor(options.limits);
      try {
        await this.backend.create({ id, network: options.network, limits });
      } catch (err) {
        throw new ApiError(500, "failed to create sandbox", (err as Error).message);
      }
    } finally {
      this.creating--;
    }
    this.lastUs = Math.max(this.clock.now() * 1000, this.lastUs + 1);
    const at = new Date(this.lastUs / 1000).toISOString();
    this.db
      .prepare(
        `INSERT INTO sandboxes (id, backend, status, keepalive_seconds, expires_ms, created_us, created_at, updated_at)
         VALUES (?, ?, 'running', ?, ?, ?, ?, ?)`,
      )
      .run(id, this.backend.name, options.keepaliveSeconds, this.clock.now() + options.keepaliveSeconds * 1000, this.lastUs, at, at);
    this.arm(id, options.keepaliveSeconds * 1000);
    // Extension: what this sandbox asked for but does not get here, said at its creation.
    const { caveats } = this.backend;
    return { ...(await this.runtimeInfo(this.row(id)!)), ...(caveats.length ? { warnings: caveats } : {}) };
  }

  /** The given limits, each within what the backend's host has (else a 400 naming it), and the defaults, within it too, for the rest. */
  private async limitsFor(given: Partial<SandboxLimits>): Promise<SandboxLimits> {
    const host = await this.backend.capacity();
    const MiB = 1024 ** 2;
    const most: SandboxLimits = { memoryBytes: host.memoryBytes, pids: Math.floor(host.pids * PID_SHARE), cpus: host.cpus, diskBytes: host.diskBytes };
    const over = (name: keyof SandboxLimits) => (given[name] ?? 0) > most[name];
    const beyond = [
      over("memoryBytes") && `memory_mb ${given.memoryBytes! / MiB} is more than this host's memory (${Math.floor(host.memoryBytes / MiB)} MiB)`,
      over("pids") && `pids ${given.pids} is more than half of this host's processes (kernel.pid_max ${host.pids}): at most ${most.pids}`,
      over("cpus") && `cpus ${given.cpus} is more than this host's ${host.cpus} CPUs`,
      over("diskBytes") && `disk_mb ${given.diskBytes! / MiB} is more than this host can give one sandbox's disk (${Math.floor(host.diskBytes / MiB)} MiB)`,
    ].filter(Boolean);
    if (beyond.length) throw new ApiError(400, "limits beyond this host", beyond.join("; "));
    const pick = (name: keyof SandboxLimits) => given[name] ?? Math.min(DEFAULT_LIMITS[name], most[name]);
    return { memoryBytes: pick("memoryBytes"), pids: pick("pids"), cpus: pick("cpus"), diskBytes: pick("diskBytes") };
  }

  /** A running sandbox's record; 404 for an unknown or killed one. */
  async running(id: string): Promise<Row> {
    const row = this.row(id);
    if (row?.status !== "running" || (await this.backend.status(id)) !== "running") {
      throw new ApiError(404, "sandbox not found or killed", `sandbox ${id} ${row ? "was killed" : "does not exist"}`);
    }
    return row;
  }

  async get(id: string) {
    const row = this.row(id);
    if (!row) throw new ApiError(404, "sandbox not found");
    return { ...(await this.runtimeInfo(row)), keepalive_seconds: row.keepalive_seconds };
  }

  async exec(id: string, spec: ExecSpec): Promise<ExecResult> {
    checkExecInput(spec);
    const row = await this.running(id);
    const release = this.hold(id);
    const ends = new AbortController();
    let timedOut = false;
    const cancelTimeout = this.clock.schedule(() => {
      timedOut = true;
      ends.abort();
    }, spec.timeoutSeconds * 1000);
    const cancel = () => ends.abort();
    spec.signal?.addEventListener("abort", cancel, { once: true });
    const output = cappedOutput(spec.onOutput ?? (() => {}), spec.maxOutputBytes ?? Infinity, spec.outputCost, spec.truncatedNote);
    let code: number | null;
    try {
      code = await this.backend.exec(id, {
        command: spec.command,
        cwd: spec.cwd,
        env: spec.env,
        stdin: spec.stdin,
        tty: spec.tty,
        signal: ends.signal,
        onOutput: output,
      });
    } finally {
      cancelTimeout();
      spec.signal?.removeEventListener("abort", cancel);
      release(false);
    }
    if (timedOut) {
      await output("stderr", Buffer.from(`\n[acontext: killed after the ${spec.timeoutSeconds} s timeout]\n`), true);
    } else if (code === null && !spec.signal?.aborted) {
      await output("stderr", Buffer.from("\n[acontext: lost the command: the sandbox's exec agent was killed]\n"), true);
    }
    const result = { exitCode: timedOut ? 124 : (code ?? 137), timedOut };
    // One write per exec, the history entry and the pushed-out idle deadline together, made right
    // after the answer is on its way (before any next request is read).
    const expires = Math.max(row.expires_ms, this.clock.now() + row.keepalive_seconds * 1000);
    setImmediate(() => {
      if (this.history.addCommand(id, spec.command, result.exitCode, expires, this.isoNow())) this.arm(id, expires - this.clock.now());
    });
    return result;
  }

  /**
   * A regular file's size and bytes from a sandbox. With a `limit`, more than it announced is its
   * error before any byte, and whoever stores the bytes counts what really comes (a size checked up
   * front is not a bound); without one, the stream ends at the size the file had when opened (a
   * file that grows, or says 0 and holds more, gives no more). The sandbox is busy until the
   * stream closes; past the transfer deadline it is cut with a 504.
   */
  async readFile(id: string, path: string, options: { limit?: ByteLimit; signal?: AbortSignal } = {}): Promise<{ size: number; stream: Readable }> {
    checkSandboxPath(path, "sandbox_path");
    await this.running(id);
    const transfer = this.transfer(id, options.signal);
    try {
      const file = await this.backend.readFile(id, path, transfer.signal);
      if (options.limit && file.size > options.limit.bytes) {
        file.stream.destroy();
        throw options.limit.exceeded();
      }
      const stream = options.limit ? file.stream : Readable.from(firstBytes(file.stream, file.size), { objectMode: false });
      // Ending the backend's stream too: a wrapper closed before its generator ran never reaches it.
      stream.once("close", () => file.stream.destroy()).once("close", () => transfer.done());
      return { size: file.size, stream };
    } catch (err) {
      transfer.done();
      throw fileApiError(err, path);
    }
  }

  /** Writes a file in a sandbox from a stream (parents made), busy meanwhile, within the transfer deadline. */
  async writeFile(id: string, path: string, source: Readable, signal?: AbortSignal): Promise<void> {
    checkSandboxPath(path, "sandbox_path");
    await this.running(id);
    const transfer = this.transfer(id, signal);
    try {
      await this.backend.writeFile(id, path, source, transfer.signal);
    } catch (err) {
      source.destroy();
      throw fileApiError(err, path);
    } finally {
      transfer.done();
    }
  }

  /**
   * The regular files under a sandbox folder, relative to it and sorted. A sandbox controls its
   * names and its listing: every name is checked (a bad one is a 400 naming it), and more than
   * the policy's count is a 400, found out while the listing streams, not after holding it all.
   */
  async listFiles(id: string, dir: string, signal?: AbortSignal): Promise<Array<{ path: string; size: number }>> {
    checkSandboxPath(dir, "sandbox_path");
    await this.running(id);
    const transfer = this.transfer(id, signal);
    const files: Array<{ path: string; size: number }> = [];
    try {
      for await (const batch of this.backend.listFiles(id, dir, transfer.signal)) {
        for (const entry of batch) {
          files.push({ path: checkReportedPath(entry.path), size: entry.size });
          if (files.length > this.policy.maxListedFiles) {
            throw new ApiError(400, "too many files", `${dir} holds more than ${this.policy.maxListedFiles} files; copy a smaller folder`);
          }
        }
      }
    } catch (err) {
      throw fileApiError(err, dir);
    } finally {
      transfer.done();
    }
    return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** What is at a path in a sandbox ("file", "dir", "other" or "missing"), asked of the backend: no command runs. */
  async stat(id: string, path: string, signal?: AbortSignal): Promise<PathKind> {
    checkSandboxPath(path, "path");
    await this.running(id);
    const transfer = this.transfer(id, signal);
    try {
      return await this.backend.stat(id, path, transfer.signal);
    } catch (err) {
      throw fileApiError(err, path);
    } finally {
      transfer.done();
    }
  }

  /** A transfer: the sandbox busy, a signal that fires at the deadline (504) or when the caller gives up. */
  private transfer(id: string, signal: AbortSignal | undefined): { signal: AbortSignal; done(): void } {
    const release = this.hold(id);
    const ends = new AbortController();
    const seconds = Math.round(this.policy.transferTimeoutMs / 1000);
    const cancelDeadline = this.clock.schedule(
      () => ends.abort(new ApiError(504, "transfer timed out", `the sandbox did not finish the transfer within ${seconds} s`)),
      this.policy.transferTimeoutMs,
    );
    const cancel = () => ends.abort(new ApiError(499, "the client went away"));
    signal?.addEventListener("abort", cancel, { once: true });
    let finished = false;
    return {
      signal: ends.signal,
      done: () => {
        if (finished) return;
        finished = true;
        cancelDeadline();
        signal?.removeEventListener("abort", cancel);
        release(true);
      },
    };
  }

  /** Marks a sandbox busy (never idled out) until the returned function runs; `touch` pushes its idle deadline out then. */
  private hold(id: string): (touch: boolean) => void {
    this.busy.set(id, (this.busy.get(id) ?? 0) + 1);
    return (touch) => {
      const left = this.busy.get(id)! - 1;
      if (left) this.busy.set(id, left);
      else this.busy.delete(id);
      if (touch) this.touch(id);
    };
  }

  /** Records a file the sandbox produced (upload_from_sandbox), as upstream's generated_files. */
  recordGeneratedFile(id: string, sandboxPath: string): void {
    if (this.row(id)) this.history.addFile(id, sandboxPath);
  }

  async extend(id: string, seconds: number) {
    const row = await this.running(id);
    const expires = Math.max(row.expires_ms, this.clock.now()) + seconds * 1000;
    this.db.prepare("UPDATE sandboxes SET expires_ms = ?, updated_at = ? WHERE id = ?").run(expires, this.isoNow(), id);
    this.arm(id, expires - this.clock.now());
    return this.get(id);
  }

  async kill(id: string): Promise<void> {
    await this.running(id);
    await this.finish(id);
  }

  list(options: PageOptions) {
    return queryPage(this.db, "sandboxes", { ...options, maxBytes: MAX_LOGS_PAGE_BYTES }, (row: Row) => this.logJson(row));
  }

  counts(): { running: number; total: number } {
    const row = this.db.prepare("SELECT count(*) AS total, coalesce(sum(status = 'running'), 0) AS running FROM sandboxes").get() as {
      total: number;
      running: number;
    };
    return row;
  }

  async shutdown(): Promise<void> {
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    const running = this.db.prepare("SELECT id FROM sandboxes WHERE status = 'running'").all() as { id: string }[];
    for (const { id } of running) await this.finish(id);
    await this.backend.killAll();
  }

  private async finish(id: string): Promise<void> {
    this.timers.get(id)?.();
    this.timers.delete(id);
    await this.backend.kill(id);
    const now = this.isoNow();
    this.db.prepare("UPDATE sandboxes SET status = 'killed', killed_at = ?, updated_at = ? WHERE id = ?").run(now, now, id);
  }

  /** Activity pushes the idle deadline out by the keepalive. */
  private touch(id: string): void {
    const row = this.row(id);
    if (row?.status !== "running") return;
    const expires = Math.max(row.expires_ms, this.clock.now() + row.keepalive_seconds * 1000);
    statement(this.db, "UPDATE sandboxes SET expires_ms = ? WHERE id = ?").run(expires, id);
    this.arm(id, expires - this.clock.now());
  }

  /** (Re)sets a sandbox's idle deadline `ms` from now; when it comes, an idle sandbox past it is killed. */
  private arm(id: string, ms: number): void {
    this.timers.get(id)?.();
    const cancel = this.clock.schedule(
      () => {
        const row = this.row(id);
        if (row?.status !== "running") return;
        if (this.busy.has(id)) return; // the exec's or the transfer's end re-arms it
        const left = row.expires_ms - this.clock.now();
        if (left > 0) return this.arm(id, left);
        this.log(`sandbox ${id}: idle past its keepalive, killing it`);
        this.finish(id).catch((err) => this.log(`sandbox ${id}: kill failed: ${(err as Error).message}`));
      },
      Math.max(ms, 0),
    );
    this.timers.set(id, cancel);
  }

  private readonly isoNow = (): string => new Date(this.clock.now()).toISOString();

  private row(id: string): Row | undefined {
    return statement(this.db, "SELECT * FROM sandboxes WHERE id = ?").get(id) as Row | undefined;
  }

  private async runtimeInfo(row: Row) {
    const running = row.status === "running" && (await this.backend.status(row.id)) === "running";
    return {
      sandbox_id: row.id,
      sandbox_status: running ? "running" : "killed",
      sandbox_created_at: row.created_at,
      sandbox_expires_at: new Date(row.status === "running" ? row.expires_ms : Date.parse(row.killed_at ?? row.updated_at)).toISOString(),
    };
  }

  private logJson(row: Row) {
    const aliveSeconds = Math.round(((row.status === "running" ? row.expires_ms : Date.parse(row.killed_at ?? row.updated_at)) - row.created_us / 1000) / 1000);
    return {
      id: row.id,
      project_id: this.projectId,
      backend_sandbox_id: row.status === "running" ? row.id : null,
      backend_type: row.backend,
      history_commands: this.history.commandsOf(row.id),
      generated_files: this.history.filesOf(row.id),
      will_total_alive_seconds: aliveSeconds,
      created_at: row.created_at,
      updated_at: row.updated_at,
      // Extension (additive): when it dies if left idle, when it was killed, its keepalive.
      expires_at: row.status === "running" ? new Date(row.expires_ms).toISOString() : null,
      killed_at: row.status === "running" ? null : (row.killed_at ?? row.updated_at),
      keepalive_seconds: row.keepalive_seconds,
    };
  }
}

/** A failed file operation as the API answers it. */
function fileApiError(err: unknown, path: string): unknown {
  if (err instanceof ApiError) return err;
  if (!(err instanceof SandboxFileError)) return err;
  const detail = err.message;
  switch (err.code) {
    case "not-found":
      return new ApiError(404, "file not found in sandbox", detail);
    case "not-regular":
      return new ApiError(400, "not a regular file", `${path} is not a regular file (a FIFO, a device or a socket can be endless)`);
    case "is-directory":
      return new ApiError(400, "is a directory", detail);
    case "not-directory":
      return new ApiError(400, "not a directory", detail);
    case "denied":
      return new ApiError(403, "permission denied in sandbox", detail);
    case "no-space":
      return new ApiError(507, "no space left in sandbox", detail);
    default:
      return new ApiError(500, "sandbox file operation failed", detail);
  }
}

/**
 * The first `size` bytes of `source`, which is then closed; a source that ends short is an error,
 * so a reader that was told `size` never takes a short file for whole.
 */
async function* firstBytes(source: Readable, size: number): AsyncGenerator<Buffer> {
  let left = size;
  if (left > 0) {
    for await (const chunk of source) {
      const piece = (chunk as Buffer).length > left ? (chunk as Buffer).subarray(0, left) : (chunk as Buffer);
      left -= piece.length;
      yield piece;
      if (left === 0) break;
    }
  }
  source.destroy();
  if (left > 0) throw new Error(`the file shrank while it was read: ${left} of its ${size} bytes missing`);
}
