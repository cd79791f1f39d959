// Cursor pagination as upstream: base64url (no padding) of "<created_at unix nanos>|<id>".
import type { Db } from "./db.js";
import { ApiError } from "./http.js";

export interface CursorPosition {
  /** Creation time in microseconds since the epoch (what we store). */
  createdUs: number;
  id: string;
}

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(`${position.createdUs}000|${position.id}`).toString("base64url");
}

/** Decodes a cursor; a malformed one is a 400 (upstream answers 500, a bug). */
export function decodeCursor(cursor: string): CursorPosition {
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, "base64url").toString("utf8") : "";
  const match = /^(\d{1,22})\|([0-9a-f-]{36})$/.exec(text);
  if (!match) throw new ApiError(400, "invalid cursor");
  const nanos = BigInt(match[1]!);
  return { createdUs: Number(nanos / 1000n), id: match[2]! };
}

export interface PageOptions {
  limit: number;
  cursor?: string;
  timeDesc: boolean;
}

/**
 * One page of a table ordered by (created_us, id), upstream's way: fetch limit + 1 rows to know
 * whether there is more, and a cursor at the last row shown. With `maxBytes`, the page ends early
 * (with a cursor) where its items' JSON would pass it; the first item is always shown.
 */
export function queryPage<Row extends { created_us: number; id: string }, Item>(
  db: Db,
  table: string,
  options: PageOptions & { where?: string[]; params?: unknown[]; maxBytes?: number },
  toItem: (row: Row) => Item,
): { items: Item[]; has_more: boolean; next_cursor?: string } {
  const where = [...(options.where ?? [])];
  const params = [...(options.params ?? [])];
  if (options.cursor) {
    const at = decodeCursor(options.cursor);
    where.push(options.timeDesc ? "(created_us < ? OR (created_us = ? AND id < ?))" : "(created_us > ? OR (created_us = ? AND id > ?))");
    params.push(at.createdUs, at.createdUs, at.id);
  }
  const order = options.timeDesc ? "DESC" : "ASC";
  const rows = db
    .prepare(`SELECT * FROM ${table} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_us ${order}, id ${order} LIMIT ?`)
    .all(...params, options.limit + 1) as Row[];
  const items: Item[] = [];
  let bytes = 0;
  for (const row of rows.slice(0, options.limit)) {
    const item = toItem(row);
    if (options.maxBytes !== undefined) {
      bytes += JSON.stringify(item).length;
      if (items.length && bytes > options.maxBytes) break;
    }
    items.push(item);
  }
  const hasMore = rows.length > items.length;
  const last = rows[items.length - 1];
  return {
    items,
    has_more: hasMore,
    ...(hasMore && last ? { next_cursor: encodeCursor({ createdUs: last.created_us, id: last.id }) } : {}),
  };
}
