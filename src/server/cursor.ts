// Cursor pagination as upstream: base64url (no padding) of "<created_at unix nanos>|<id>".
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
