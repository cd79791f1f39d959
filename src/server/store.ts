// Disks, artifacts, users and material tokens in SQLite. Every method is synchronous
// (better-sqlite3), so each one is atomic with respect to the other requests.
import { randomBytes, randomUUID } from "node:crypto";
import { type PageOptions, queryPage } from "./cursor.js";
import type { Db } from "./db.js";

export const RESERVED_META_KEY = "__artifact_info__";

interface DiskRow {
  id: string;
  user_id: string | null;
  created_us: number;
  created_at: string;
  updated_at: string;
}

export interface ArtifactRow {
  disk_id: string;
  path: string;
  filename: string;
  meta: string;
  mime: string;
  size: number;
  sha256: string;
  is_text: number;
  created_at: string;
  updated_at: string;
}

export interface MaterialRow {
  token: string;
  sha256: string;
  mime: string;
  filename: string;
  expires_ms: number;
}

export interface Page<T> {
  items: T[];
  has_more: boolean;
  next_cursor?: string;
}

export interface NewArtifact {
  diskId: string;
  path: string;
  filename: string;
  meta: Record<string, unknown>;
  mime: string;
  size: number;
  sha256: string;
  isText: boolean;
}

export class Store {
  private lastUs = 0;
  readonly projectId: string;

  constructor(private readonly db: Db) {
    this.projectId = this.setting("project_id") ?? this.setSetting("project_id", randomUUID());
  }

  private setting(key: string): string | undefined {
    const row = this.db.prepare("SELECT value FROM settings WHERE key = ?").get(key) as { value: string } | undefined;
    return row?.value;
  }

  private setSetting(key: string, value: string): string {
    this.db.prepare("INSERT INTO settings (key, value) VALUES (?, ?)").run(key, value);
    return value;
  }

  /** A strictly increasing creation time in microseconds, so cursors never tie within a server. */
  private nowUs(): number {
    this.lastUs = Math.max(Date.now() * 1000, this.lastUs + 1);
    return this.lastUs;
  }

  // ---- disks ----

  createDisk(userIdentifier?: string) {
    const created = this.nowUs();
    const at = new Date(created / 1000).toISOString();
    const row: DiskRow = {
      id: randomUUID(),
      user_id: userIdentifier ? this.userId(userIdentifier, true)! : null,
      created_us: created,
      created_at: at,
      updated_at: at,
    };
    this.db
      .prepare("INSERT INTO disks (id, user_id, created_us, created_at, updated_at) VALUES (@id, @user_id, @created_us, @created_at, @updated_at)")
      .run(row);
    return this.diskJson(row);
  }

  listDisks(options: PageOptions & { user?: string }): Page<ReturnType<Store["diskJson"]>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (options.user !== undefined) {
      const userId = this.userId(options.user, false);
      if (!userId) return { items: [], has_more: false };
      where.push("user_id = ?");
      params.push(userId);
    }
    return queryPage(this.db, "disks", { ...options, where, params }, (row: DiskRow) => this.diskJson(row));
  }

  hasDisk(id: string): boolean {
    return this.db.prepare("SELECT 1 FROM disks WHERE id = ?").get(id) !== undefined;
  }

  /** Deletes a disk and its artifacts; returns the blobs they used. */
  deleteDisk(id: string): string[] {
    return this.db.transaction(() => {
      const blobs = (this.db.prepare("SELECT DISTINCT sha256 FROM artifacts WHERE disk_id = ?").all(id) as { sha256: string }[]).map((r) => r.sha256);
      this.db.prepare("DELETE FROM disks WHERE id = ?").run(id);
      return blobs;
    })();
  }

  private diskJson(row: DiskRow) {
    return { id: row.id, project_id: this.projectId, user_id: row.user_id, created_at: row.created_at, updated_at: row.updated_at };
  }

  private userId(identifier: string, create: boolean): string | undefined {
    const row = this.db.prepare("SELECT id FROM users WHERE identifier = ?").get(identifier) as { id: string } | undefined;
    if (row || !create) return row?.id;
    const id = randomUUID();
    this.db.prepare("INSERT INTO users (id, identifier, created_at) VALUES (?, ?, ?)").run(id, identifier, new Date().toISOString());
    return id;
  }

  // ---- artifacts ----

  /** Replaces (delete, then create) the artifact at its path; returns it and the blob it replaced. */
  upsertArtifact(input: NewArtifact): { artifact: ArtifactRow; replaced?: string } {
    return this.db.transaction(() => {
      const old = this.getArtifact(input.diskId, input.path, input.filename);
      if (old) this.db.prepare("DELETE FROM artifacts WHERE disk_id = ? AND path = ? AND filename = ?").run(input.diskId, input.path, input.filename);
      const at = new Date(this.nowUs() / 1000).toISOString();
      const row: ArtifactRow = {
        disk_id: input.diskId,
        path: input.path,
        filename: input.filename,
        meta: JSON.stringify(input.meta),
        mime: input.mime,
        size: input.size,
        sha256: input.sha256,
        is_text: input.isText ? 1 : 0,
        created_at: at,
        updated_at: at,
      };
      this.db
        .prepare(
          `INSERT INTO artifacts (disk_id, path, filename, meta, mime, size, sha256, is_text, created_at, updated_at)
           VALUES (@disk_id, @path, @filename, @meta, @mime, @size, @sha256, @is_text, @created_at, @updated_at)`,
        )
        .run(row);
      return { artifact: row, ...(old && old.sha256 !== row.sha256 ? { replaced: old.sha256 } : {}) };
    })();
  }

  getArtifact(diskId: string, path: string, filename: string): ArtifactRow | undefined {
    return this.db.prepare("SELECT * FROM artifacts WHERE disk_id = ? AND path = ? AND filename = ?").get(diskId, path, filename) as ArtifactRow | undefined;
  }

  updateArtifactMeta(diskId: string, path: string, filename: string, meta: Record<string, unknown>): ArtifactRow | undefined {
    const at = new Date(this.nowUs() / 1000).toISOString();
    const result = this.db
      .prepare("UPDATE artifacts SET meta = ?, updated_at = ? WHERE disk_id = ? AND path = ? AND filename = ?")
      .run(JSON.stringify(meta), at, diskId, path, filename);
    return result.changes ? this.getArtifact(diskId, path, filename) : undefined;
  }

  /** Deletes an artifact; returns its blob, or undefined if there was none. */
  deleteArtifact(diskId: string, path: string, filename: string): string | undefined {
    const row = this.getArtifact(diskId, path, filename);
    if (!row) return undefined;
    this.db.prepare("DELETE FROM artifacts WHERE disk_id = ? AND path = ? AND filename = ?").run(diskId, path, filename);
    return row.sha256;
  }

  /** Artifacts directly in `dir`, and the names of its child directories, both sorted. */
  listDirectory(diskId: string, dir: string): { artifacts: ArtifactRow[]; directories: string[] } {
    const artifacts = this.db.prepare("SELECT * FROM artifacts WHERE disk_id = ? AND path = ? ORDER BY filename").all(diskId, dir) as ArtifactRow[];
    const paths = this.db
      .prepare("SELECT DISTINCT path FROM artifacts WHERE disk_id = ? AND path > ? AND substr(path, 1, ?) = ?")
      .all(diskId, dir, dir.length, dir) as { path: string }[];
    const directories = new Set<string>();
    for (const { path } of paths) {
      const child = path.slice(dir.length).split("/")[0];
      if (child) directories.add(child);
    }
    return { artifacts, directories: [...directories].sort() };
  }

  /** Every artifact of a disk, in path order. */
  artifactsOf(diskId: string): ArtifactRow[] {
    return this.db.prepare("SELECT * FROM artifacts WHERE disk_id = ? ORDER BY path, filename").all(diskId) as ArtifactRow[];
  }

  /** Bytes of all a disk's artifacts (for its quota). */
  diskUsage(diskId: string): number {
    return (this.db.prepare("SELECT coalesce(sum(size), 0) AS bytes FROM artifacts WHERE disk_id = ?").get(diskId) as { bytes: number }).bytes;
  }

  // ---- material tokens (public URLs) ----

  createMaterial(row: Omit<MaterialRow, "token">): string {
    const token = randomBytes(32).toString("hex");
    this.db.prepare("DELETE FROM materials WHERE expires_ms <= ?").run(Date.now());
    this.db
      .prepare("INSERT INTO materials (token, sha256, mime, filename, expires_ms) VALUES (?, ?, ?, ?, ?)")
      .run(token, row.sha256, row.mime, row.filename, row.expires_ms);
    return token;
  }

  getMaterial(token: string): MaterialRow | undefined {
    const row = this.db.prepare("SELECT * FROM materials WHERE token = ?").get(token) as MaterialRow | undefined;
    return row && row.expires_ms > Date.now() ? row : undefined;
  }

  /** Whether an artifact or a live public URL still needs the blob. */
  isBlobReferenced = (sha256: string): boolean =>
    this.db.prepare("SELECT 1 FROM artifacts WHERE sha256 = ? LIMIT 1").get(sha256) !== undefined ||
    this.db.prepare("SELECT 1 FROM materials WHERE sha256 = ? AND expires_ms > ? LIMIT 1").get(sha256, Date.now()) !== undefined;

  counts(): { disks: number; artifacts: number; bytes: number } {
    const disks = (this.db.prepare("SELECT count(*) AS n FROM disks").get() as { n: number }).n;
    const art = this.db.prepare("SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM artifacts").get() as { n: number; bytes: number };
    return { disks, artifacts: art.n, bytes: art.bytes };
  }
}

/** An artifact as the API shows it: system info under the reserved meta key, user meta beside it. */
export function artifactJson(row: ArtifactRow) {
  const userMeta = JSON.parse(row.meta) as Record<string, unknown>;
  return {
    disk_id: row.disk_id,
    path: row.path,
    filename: row.filename,
    meta: { [RESERVED_META_KEY]: { path: row.path, filename: row.filename, mime: row.mime, size: row.size }, ...userMeta },
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}
