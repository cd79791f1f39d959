// SQLite through better-sqlite3: WAL, foreign keys, and schema migrations versioned here.
import Database from "better-sqlite3";

export type Db = Database.Database;

/** Each entry upgrades the schema by one version; never edit a shipped entry, append a new one. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE users (
     id TEXT PRIMARY KEY,
     identifier TEXT NOT NULL UNIQUE,
     created_at TEXT NOT NULL
   );
   CREATE TABLE disks (
     id TEXT PRIMARY KEY,
     user_id TEXT REFERENCES users(id),
     created_us INTEGER NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE INDEX disks_by_time ON disks (created_us, id);
   CREATE TABLE artifacts (
     disk_id TEXT NOT NULL REFERENCES disks(id) ON DELETE CASCADE,
     path TEXT NOT NULL,
     filename TEXT NOT NULL,
     meta TEXT NOT NULL,
     mime TEXT NOT NULL,
     size INTEGER NOT NULL,
     sha256 TEXT NOT NULL,
     is_text INTEGER NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     PRIMARY KEY (disk_id, path, filename)
   );
   CREATE INDEX artifacts_by_blob ON artifacts (sha256);
   CREATE TABLE materials (
     token TEXT PRIMARY KEY,
     sha256 TEXT NOT NULL,
     mime TEXT NOT NULL,
     filename TEXT NOT NULL,
     expires_ms INTEGER NOT NULL
   );
   CREATE INDEX materials_by_blob ON materials (sha256);`,
  `CREATE TABLE sandboxes (
     id TEXT PRIMARY KEY,
     backend TEXT NOT NULL,
     status TEXT NOT NULL,
     keepalive_seconds INTEGER NOT NULL,
     expires_ms INTEGER NOT NULL,
     history_commands TEXT NOT NULL DEFAULT '[]',
     generated_files TEXT NOT NULL DEFAULT '[]',
     created_us INTEGER NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     killed_at TEXT
   );
   CREATE INDEX sandboxes_by_time ON sandboxes (created_us, id);`,
  // A sandbox's history as rows appended (history.ts), no longer JSON arrays rewritten whole on
  // every exec; commands kept up to their first 4096 bytes.
  `CREATE TABLE sandbox_commands (
     seq INTEGER PRIMARY KEY,
     sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
     command TEXT NOT NULL,
     exit_code INTEGER NOT NULL
   );
   CREATE INDEX sandbox_commands_by_sandbox ON sandbox_commands (sandbox_id, seq);
   CREATE TABLE sandbox_files (
     seq INTEGER PRIMARY KEY,
     sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
     sandbox_path TEXT NOT NULL
   );
   CREATE INDEX sandbox_files_by_sandbox ON sandbox_files (sandbox_id, seq);
   INSERT INTO sandbox_commands (sandbox_id, command, exit_code)
     SELECT sandbox_id,
            CASE WHEN length(CAST(command AS BLOB)) > 4096
                 THEN CAST(substr(CAST(command AS BLOB), 1, 4096) AS TEXT) || '… [acontext: ' || length(CAST(command AS BLOB)) || ' bytes; the first 4096 kept]'
                 ELSE command END,
            exit_code
     FROM (SELECT s.id AS sandbox_id, coalesce(json_extract(h.value, '$.command'), '') AS command,
                  coalesce(json_extract(h.value, '$.exit_code'), 0) AS exit_code, s.created_us, h.key AS n
           FROM sandboxes s, json_each(s.history_commands) h)
     ORDER BY created_us, sandbox_id, n;
   INSERT INTO sandbox_files (sandbox_id, sandbox_path)
     SELECT s.id, coalesce(json_extract(f.value, '$.sandbox_path'), '')
     FROM sandboxes s, json_each(s.generated_files) f
     ORDER BY s.created_us, s.id, f.key;
   ALTER TABLE sandboxes DROP COLUMN history_commands;
   ALTER TABLE sandboxes DROP COLUMN generated_files;`,
];

const statements = new WeakMap<Db, Map<string, Database.Statement>>();

/** `sql` compiled once per database (better-sqlite3 compiles on every prepare; an exec runs several). */
export function statement(db: Db, sql: string): Database.Statement {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let compiled = cache.get(sql);
  if (!compiled) cache.set(sql, (compiled = db.prepare(sql)));
  return compiled;
}

/**
 * Runs `write` as one transaction committed without waiting for the disk (synchronous NORMAL: in
 * WAL mode still atomic and consistent, but a power loss may take back the last such commits), then
 * puts FULL back for everything else. For bookkeeping that a crash makes moot: an exec's history
 * entry and its sandbox's idle deadline (the sandbox dies with the machine). A FULL commit holds the
 * event loop for an fsync, ~0.9 ms on this project's machines, on every exec.
 */
export function unsynced<T>(db: Db, write: () => T): T {
  statement(db, "PRAGMA synchronous = NORMAL").run();
  try {
    return db.transaction(write)();
  } finally {
    statement(db, "PRAGMA synchronous = FULL").run();
  }
}

export function openDatabase(file: string): Db {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  // FULL: a commit is on disk before the 201 goes out, so acknowledged uploads survive a crash.
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`the database is from a newer acontext (schema ${current}, this one knows ${MIGRATIONS.length})`);
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
