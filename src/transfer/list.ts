// Listing a disk directory for `disk ls`: directories first, then files; -R walks down.

import type { AcontextClient } from "../client/client.js";
import { ExpectedError } from "../shared/errors.js";
import { asDirectory, parseEndpoint } from "./plan.js";

export interface Entry {
  path: string;
  type: "dir" | "file";
  size?: number;
  mime?: string;
  updated_at?: string;
}

/** `check` sees each entry before it is kept or walked into, and may refuse it by throwing. */
export async function listFiles(client: AcontextClient, location: string, recursive: boolean, check?: (entry: Entry) => void): Promise<Entry[]> {
  const endpoint = parseEndpoint(location);
  if (endpoint.kind !== "disk") throw new ExpectedError(`${location} is not on a disk`, { hint: "list files with disk://DISK_ID/dir/", exitCode: 2 });
  const root = asDirectory(endpoint.path);
  const entries: Entry[] = [];
  const queue = [root];
  while (queue.length) {
    const dir = queue.shift()!;
    const listing = await client.listDirectory(endpoint.diskId, dir);
    for (const child of listing.directories) {
      const entry: Entry = { path: `${dir}${child}/`, type: "dir" };
      check?.(entry);
      entries.push(entry);
      if (recursive) queue.push(entry.path);
    }
    for (const artifact of listing.artifacts) {
      const info = artifact.meta.__artifact_info__;
      const entry: Entry = { path: `${artifact.path}${artifact.filename}`, type: "file", size: info?.size, mime: info?.mime, updated_at: artifact.updated_at };
      check?.(entry);
      entries.push(entry);
    }
  }
  return recursive ? entries.sort((a, b) => a.path.localeCompare(b.path)) : entries;
}
