// Listing a disk directory for `disk ls`: directories first, then files; -R walks down.
import { CliError } from "../cli/errors.js";
import type { AcontextClient } from "../client/client.js";
import { asDirectory, parseEndpoint } from "./plan.js";

export interface Entry {
  path: string;
  type: "dir" | "file";
  size?: number;
  mime?: string;
  updated_at?: string;
}

export async function listFiles(client: AcontextClient, location: string, recursive: boolean): Promise<Entry[]> {
  const endpoint = parseEndpoint(location);
  if (endpoint.kind !== "disk") throw new CliError(`${location} is not on a disk`, { hint: "list files with disk://DISK_ID/dir/", exitCode: 2 });
  const root = asDirectory(endpoint.path);
  const entries: Entry[] = [];
  const queue = [root];
  while (queue.length) {
    const dir = queue.shift()!;
    const listing = await client.listDirectory(endpoint.diskId, dir);
    for (const child of listing.directories) {
      entries.push({ path: `${dir}${child}/`, type: "dir" });
      if (recursive) queue.push(`${dir}${child}/`);
    }
    for (const artifact of listing.artifacts) {
      const info = artifact.meta.__artifact_info__;
      entries.push({ path: `${artifact.path}${artifact.filename}`, type: "file", size: info?.size, mime: info?.mime, updated_at: artifact.updated_at });
    }
  }
  return recursive ? entries.sort((a, b) => a.path.localeCompare(b.path)) : entries;
}
