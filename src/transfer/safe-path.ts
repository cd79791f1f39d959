// The paths a remote side lists for `disk cp -r`, checked before any local file is written. A
// sandbox controls its file names and even its own `find`, and a self-hosted API its listings, so
// every path they report is hostile until shown to stay inside the folder being copied. Pure:
// every rule is a table test (test/unit/safe-path.test.ts).
import { PlanError } from "./plan.js";

export const MAX_ENTRIES = 100_000;
export const MAX_PATH_BYTES = 4096;
export const MAX_NAME_BYTES = 255;

/** Why `path` cannot be joined below a local folder, or undefined when it can. */
export function unsafeReason(path: string, platform: NodeJS.Platform = process.platform): string | undefined {
  if (path === "") return "is empty";
  if (path.includes("\0")) return "holds a NUL byte";
  if (/[\r\n]/.test(path)) return "holds a line break";
  // A backslash is an ordinary character on Linux and macOS, a separator on Windows.
  if (platform === "win32" && path.includes("\\")) return "holds a backslash";
  if (path.startsWith("/")) return "is absolute";
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return `is longer than ${MAX_PATH_BYTES} bytes`;
  for (const name of path.split("/")) {
    if (name === "") return "has an empty segment";
    if (name === "." || name === "..") return `has a "${name}" segment`;
    if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `has a name longer than ${MAX_NAME_BYTES} bytes`;
  }
  return undefined;
}

/**
 * The entries of NUL-terminated output (`find -print0`) as it streams: each chunk gives the entries
 * it completes. An entry that passes `prefix` and MAX_PATH_BYTES is refused as soon as it does
 * (never held whole: a hostile listing may never end); a last entry without its NUL counts too.
 */
export class NulTerminated {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly maxBytes: number;

  /** `source`: the folder listed, for messages. */
  constructor(
    private readonly source: string,
    prefix: string,
  ) {
    this.maxBytes = Buffer.byteLength(prefix) + MAX_PATH_BYTES;
  }

  push(chunk: Buffer): string[] {
    const entries: string[] = [];
    let start = 0;
    for (let nul = chunk.indexOf(0); nul !== -1; nul = chunk.indexOf(0, start)) {
      this.hold(nul - start);
      entries.push(this.take(chunk.subarray(start, nul)));
      start = nul + 1;
    }
    if (start < chunk.length) {
      this.hold(chunk.length - start);
      this.pending.push(chunk.subarray(start));
    }
    return entries;
  }

  end(): string[] {
    return this.pendingBytes ? [this.take(Buffer.alloc(0))] : [];
  }

  private hold(bytes: number): void {
    this.pendingBytes += bytes;
    if (this.pendingBytes <= this.maxBytes) return;
    const head = Buffer.concat(this.pending).subarray(0, 64).toString();
    throw new PlanError(
      `refusing the listing of ${this.source}: an entry is longer than ${MAX_PATH_BYTES} bytes (it starts ${JSON.stringify(head)})`,
      "a sandbox or disk may list only paths inside the folder copied; nothing of this folder was written",
      1,
    );
  }

  private take(last: Buffer): string {
    const entry = this.pending.length ? Buffer.concat([...this.pending, last]) : last;
    this.pending = [];
    this.pendingBytes = 0;
    return entry.toString();
  }
}

/**
 * A remote folder's listing, checked entry by entry as it arrives (so a hostile one cannot grow
 * without end), then whole by `files()`. Entries are named exactly as listed, starting with
 * `prefix` ("./" from find, "/dir/" on a disk); one bad entry refuses the whole listing.
 */
export class TreeListing {
  private readonly files = new Set<string>();
  private entries = 0;

  /** `source`: the folder listed, for messages. */
  constructor(
    private readonly source: string,
    private readonly prefix: string,
    private readonly platform: NodeJS.Platform = process.platform,
  ) {}

  /** One listed entry; a folder (as a disk lists them, "/dir/sub/") is checked, not kept. */
  add(listed: string, type: "file" | "dir" = "file"): void {
    if (++this.entries > MAX_ENTRIES) {
      throw new PlanError(
        `refusing the listing of ${this.source}: more than ${MAX_ENTRIES} entries`,
        "copy its subfolders one at a time, or pack it into one file first (tar)",
        1,
      );
    }
    if (!listed.startsWith(this.prefix)) throw this.refuse(listed, "is outside the folder");
    const path = listed.slice(this.prefix.length, type === "dir" && listed.endsWith("/") ? -1 : undefined);
    const reason = unsafeReason(path, this.platform);
    if (reason) throw this.refuse(listed, reason);
    if (type === "dir") return;
    if (this.files.has(path)) throw this.refuse(listed, "is listed twice");
    this.files.add(path);
  }

  /** The files, relative to the folder and sorted, once none is also the folder of another. */
  paths(): string[] {
    for (const path of this.files) {
      for (let slash = path.indexOf("/"); slash !== -1; slash = path.indexOf("/", slash + 1)) {
        const folder = path.slice(0, slash);
        if (this.files.has(folder)) throw this.refuse(this.prefix + folder, `is a file and also the folder of ${JSON.stringify(this.prefix + path)}`);
      }
    }
    return [...this.files].sort();
  }

  private refuse(listed: string, reason: string): PlanError {
    return new PlanError(
      `refusing the listing of ${this.source}: ${JSON.stringify(listed)} ${reason}`,
      "a sandbox or disk may list only paths inside the folder copied; nothing of this folder was written",
      1,
    );
  }
}
