// What a sandbox ran and produced, as GET /sandbox/logs shows it (upstream's `history_commands` and
// `generated_files`): a row per entry, appended (never a whole history rewritten), the latest
// `limit` kept per sandbox, a command kept up to its first 4 KiB.
import { type Db, statement, unsynced } from "./db.js";

/** Bytes of a command kept in its history; the rest is cut, with a marker. */
export const MAX_STORED_COMMAND_BYTES = 4096;

export class SandboxHistory {
  constructor(
    private readonly db: Db,
    /** Entries kept per sandbox, of each kind: the latest. */
    private readonly limit: number,
  ) {}

  /**
   * An exec's one write: a running sandbox's command appended (the oldest past the limit dropped)
   * and its idle deadline pushed out to `expiresMs`, in one transaction not waited on (unsynced);
   * false if it is not running.
   */
  addCommand(sandboxId: string, command: string, exitCode: number, expiresMs: number, now: string): boolean {
    return unsynced(this.db, () => {
      const pushed = statement(this.db, "UPDATE sandboxes SET expires_ms = max(expires_ms, ?), updated_at = ? WHERE id = ? AND status = 'running'");
      if (!pushed.run(expiresMs, now, sandboxId).changes) return false;
      statement(this.db, "INSERT INTO sandbox_commands (sandbox_id, command, exit_code) VALUES (?, ?, ?)").run(sandboxId, storedCommand(command), exitCode);
      this.prune("sandbox_commands", sandboxId);
      return true;
    });
  }

  addFile(sandboxId: string, sandboxPath: string): void {
    this.db.transaction(() => {
      statement(this.db, "INSERT INTO sandbox_files (sandbox_id, sandbox_path) VALUES (?, ?)").run(sandboxId, sandboxPath);
      this.prune("sandbox_files", sandboxId);
    })();
  }

  commandsOf(sandboxId: string): Array<{ command: string; exit_code: number }> {
    return this.db
      .prepare(
        "SELECT command, exit_code FROM (SELECT seq, command, exit_code FROM sandbox_commands WHERE sandbox_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq",
      )
      .all(sandboxId, this.limit) as Array<{ command: string; exit_code: number }>;
  }

  filesOf(sandboxId: string): Array<{ sandbox_path: string }> {
    return this.db
      .prepare("SELECT sandbox_path FROM (SELECT seq, sandbox_path FROM sandbox_files WHERE sandbox_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq")
      .all(sandboxId, this.limit) as Array<{ sandbox_path: string }>;
  }

  /** Keeps a sandbox's latest `limit` rows of `table` (an index lookup, whatever the history's length). */
  private prune(table: "sandbox_commands" | "sandbox_files", sandboxId: string): void {
    statement(
      this.db,
      `DELETE FROM ${table} WHERE sandbox_id = ? AND seq <= (SELECT seq FROM ${table} WHERE sandbox_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
    ).run(sandboxId, sandboxId, this.limit);
  }
}

/** A command as its history keeps it: whole, or its first 4 KiB (never half a character) and a marker. */
export function storedCommand(command: string): string {
  const bytes = Buffer.byteLength(command);
  if (bytes <= MAX_STORED_COMMAND_BYTES) return command;
  let head = Buffer.from(command).subarray(0, MAX_STORED_COMMAND_BYTES).toString("utf8");
  if (head.endsWith("\uFFFD")) head = head.slice(0, -1);
  return `${head}… [acontext: ${bytes} bytes; the first ${MAX_STORED_COMMAND_BYTES} kept]`;
}
