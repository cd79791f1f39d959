// Sandboxes as the API sees them: records in SQLite (history, keepalive, status) over a backend
// that runs them. Idle sandboxes die after their keepalive; a restarted server marks the ones it
// can no longer reach as killed (their processes died with the old server).
import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import type { ExecResult, SandboxBackend, SandboxLimits, Terminal } from "../sandbox/backend.js";
import { queryPage, type PageOptions } from "./cursor.js";
import type { Db } from "./db.js";
import { ApiError } from "./http.js";

export const DEFAULT_LIMITS: SandboxLimits = {
  memoryBytes: 2 * 1024 ** 3,
  pids: 512,
  cpus: 1,
  diskBytes: 1024 ** 3,
};

/** setTimeout's ceiling (~24.8 days); a later deadline is re-armed when this one fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Row {
  id: string;
  backend: string;
  status: "running" | "killed";
  keepalive_seconds: number;
  expires_ms: number;
  history_commands: string;
  generated_files: string;
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
  maxOutputBytes?: number;
  signal?: AbortSignal;
  onOutput?: (stream: "stdout" | "stderr", chunk: Buffer) => void | Promise<void>;
}

export class SandboxService {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Commands running per sandbox: a busy sandbox is never idle. */
  private readonly busy = new Map<string, number>();
  private lastUs = 0;

  constructor(
    private readonly db: Db,
    readonly backend: SandboxBackend,
    private readonly projectId: string,
    private readonly log: (line: string) => void,
  ) {}

  /** After a restart: what was running died with the old server. */
  async init(): Promise<void> {
    const swept = await this.backend.sweep();
    const now = new Date().toISOString();
    const result = this.db.prepare("UPDATE sandboxes SET status = 'killed', killed_at = ?, updated_at = ? WHERE status = 'running'").run(now, now);
    if (result.changes || swept.length) this.log(`marked ${result.changes} sandbox(es) of an earlier run as killed; cleaned ${swept.length}`);
  }

  async create(options: { keepaliveSeconds: number; network: boolean; limits: SandboxLimits }) {
    const id = randomUUID();
    try {
      await this.backend.create({ id, network: options.network, limits: options.limits });
    } catch (err) {
      throw new ApiError(500, "failed to create sandbox", (err as Error).message);
    }
    this.lastUs = Math.max(Date.now() * 1000, this.lastUs + 1);
    const at = new Date(this.lastUs / 1000).toISOString();
    this.db
      .prepare(
        `INSERT INTO sandboxes (id, backend, status, keepalive_seconds, expires_ms, created_us, created_at, updated_at)
         VALUES (?, ?, 'running', ?, ?, ?, ?, ?)`,
      )
      .run(id, this.backend.name, options.keepaliveSeconds, Date.now() + options.keepaliveSeconds * 1000, this.lastUs, at, at);
    this.arm(id, options.keepaliveSeconds * 1000);
    return this.runtimeInfo(this.row(id)!);
  }

  /** A running sandbox's record; 404 for an unknown or killed one. */
  running(id: string): Row {
    const row = this.row(id);
    if (!row || row.status !== "running" || !this.backend.isRunning(id)) {
      throw new ApiError(404, "sandbox not found or killed", `sandbox ${id} ${row ? "was killed" : "does not exist"}`);
    }
    return row;
  }

  get(id: string) {
    const row = this.row(id);
    if (!row) throw new ApiError(404, "sandbox not found");
    return { ...this.runtimeInfo(row), keepalive_seconds: row.keepalive_seconds };
  }

  async exec(id: string, spec: ExecSpec): Promise<ExecResult> {
    const row = this.running(id);
    // A sandbox is not idle while a command runs, however long it takes.
    this.busy.set(id, (this.busy.get(id) ?? 0) + 1);
    let result: ExecResult;
    try {
      result = await this.backend.exec(id, {
        command: spec.command,
        cwd: spec.cwd,
        env: spec.env,
        timeoutMs: spec.timeoutSeconds * 1000,
        stdin: spec.stdin,
        tty: spec.tty,
        maxOutputBytes: spec.maxOutputBytes,
        signal: spec.signal,
        onOutput: spec.onOutput,
      });
    } finally {
      const left = this.busy.get(id)! - 1;
      if (left) this.busy.set(id, left);
      else this.busy.delete(id);
    }
    // One write per exec, the history and the pushed-out idle deadline together, made right after
    // the answer is on its way (before any next request is read).
    const entry = JSON.stringify({ command: spec.command, exit_code: result.exitCode });
    const expires = Math.max(row.expires_ms, Date.now() + row.keepalive_seconds * 1000);
    setImmediate(() => {
      const updated = this.db
        .prepare(
          `UPDATE sandboxes SET history_commands = json_insert(history_commands, '$[#]', json(?)), expires_ms = max(expires_ms, ?), updated_at = ?
           WHERE id = ? AND status = 'running'`,
        )
        .run(entry, expires, new Date().toISOString(), id);
      if (updated.changes) this.arm(id, expires - Date.now());
    });
    return result;
  }

  /** Records a file the sandbox produced (upload_from_sandbox), as upstream's generated_files. */
  recordGeneratedFile(id: string, sandboxPath: string): void {
    const row = this.row(id);
    if (!row) return;
    const files = JSON.parse(row.generated_files) as unknown[];
    files.push({ sandbox_path: sandboxPath });
    this.db.prepare("UPDATE sandboxes SET generated_files = ? WHERE id = ?").run(JSON.stringify(files), id);
  }

  extend(id: string, seconds: number) {
    const row = this.running(id);
    const expires = Math.max(row.expires_ms, Date.now()) + seconds * 1000;
    this.db.prepare("UPDATE sandboxes SET expires_ms = ?, updated_at = ? WHERE id = ?").run(expires, new Date().toISOString(), id);
    this.arm(id, expires - Date.now());
    return this.get(id);
  }

  async kill(id: string): Promise<void> {
    this.running(id);
    await this.finish(id);
  }

  list(options: PageOptions) {
    return queryPage(this.db, "sandboxes", options, (row: Row) => this.logJson(row));
  }

  counts(): { running: number; total: number } {
    const row = this.db.prepare("SELECT count(*) AS total, coalesce(sum(status = 'running'), 0) AS running FROM sandboxes").get() as { total: number; running: number };
    return row;
  }

  async shutdown(): Promise<void> {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    const running = this.db.prepare("SELECT id FROM sandboxes WHERE status = 'running'").all() as { id: string }[];
    for (const { id } of running) await this.finish(id);
    await this.backend.killAll();
  }

  private async finish(id: string): Promise<void> {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    await this.backend.kill(id);
    const now = new Date().toISOString();
    this.db.prepare("UPDATE sandboxes SET status = 'killed', killed_at = ?, updated_at = ? WHERE id = ?").run(now, now, id);
  }

  /** Activity pushes the idle deadline out by the keepalive. */
  private touch(id: string): void {
    const row = this.row(id);
    if (!row || row.status !== "running") return;
    const expires = Math.max(row.expires_ms, Date.now() + row.keepalive_seconds * 1000);
    this.db.prepare("UPDATE sandboxes SET expires_ms = ? WHERE id = ?").run(expires, id);
    this.arm(id, expires - Date.now());
  }

  private arm(id: string, ms: number): void {
    clearTimeout(this.timers.get(id));
    const timer = setTimeout(() => {
      const row = this.row(id);
      if (!row || row.status !== "running") return;
      if (this.busy.has(id)) return; // the exec's end re-arms it
      if (row.expires_ms > Date.now()) return this.arm(id, row.expires_ms - Date.now());
      this.log(`sandbox ${id}: idle past its keepalive, killing it`);
      this.finish(id).catch((err) => this.log(`sandbox ${id}: kill failed: ${(err as Error).message}`));
    }, Math.min(Math.max(ms, 0), MAX_TIMER_MS));
    timer.unref();
    this.timers.set(id, timer);
  }

  private row(id: string): Row | undefined {
    return this.db.prepare("SELECT * FROM sandboxes WHERE id = ?").get(id) as Row | undefined;
  }

  private runtimeInfo(row: Row) {
    return {
      sandbox_id: row.id,
      sandbox_status: row.status === "running" && this.backend.isRunning(row.id) ? "running" : "killed",
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
      history_commands: JSON.parse(row.history_commands),
      generated_files: JSON.parse(row.generated_files),
      will_total_alive_seconds: aliveSeconds,
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }
}
