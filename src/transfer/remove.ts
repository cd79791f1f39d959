// `disk rm`: whole disks by id, files by disk:// path, directories with -r. Usage mistakes (a
// directory without -r, a path that is not on a disk) are refused before anything is deleted, with
// exit code 2 as for `disk cp`; then each target is deleted, going on past one that fails.

import { type AcontextClient, APIError } from "../client/client.js";
import { ExpectedError } from "../shared/errors.js";
import { listFiles } from "./list.js";
import { asDirectory, type Endpoint, PlanError, parseEndpoint } from "./plan.js";

type Target =
  | { text: string; disk: string }
  | { text: string; file: Endpoint & { kind: "disk" }; missing: boolean }
  | { text: string; dir: Endpoint & { kind: "disk" } };

/** Deletes every target; returns how many could not be deleted (each reported as it fails). */
export async function removeTargets(client: AcontextClient, texts: string[], recursive: boolean, report: (line: string) => void): Promise<number> {
  const targets: Target[] = [];
  for (const text of texts) targets.push(await classify(client, text, recursive));
  let failures = 0;
  for (const target of targets) {
    try {
      if ("disk" in target) {
        await client.deleteDisk(target.disk);
        report(`deleted disk ${target.disk}`);
      } else if ("dir" in target) {
        const files = (await listFiles(client, target.text, true)).filter((e) => e.type === "file");
        if (!files.length) throw new ExpectedError(`${target.text}: no such directory`);
        for (const file of files) await client.deleteArtifact(target.dir.diskId, file.path);
        report(`deleted ${target.text} (${files.length} file${files.length === 1 ? "" : "s"})`);
      } else {
        if (target.missing) {
          const parent = target.file.path.slice(0, target.file.path.lastIndexOf("/") + 1);
          throw new ExpectedError(`${target.text}: no such file or directory`, {
            hint: `see what is there: acontext disk ls disk://${target.file.diskId}${parent}`,
          });
        }
        await client.deleteArtifact(target.file.diskId, target.file.path);
        report(`deleted ${target.text}`);
      }
    } catch (err) {
      if (!(err instanceof ExpectedError || err instanceof APIError)) throw err;
      // One target: its own error is the command's (one line and a hint, by the caller).
      if (texts.length === 1) throw err;
      failures++;
      const message = err.message.startsWith(target.text) ? err.message : `${target.text}: ${err.message}`;
      report(`error: ${message}${err instanceof APIError && err.detail ? ` (${err.detail})` : ""}`);
    }
  }
  return failures;
}

/** A disk, a file or a directory; a directory without -r, or a path not on a disk, is a usage error. */
async function classify(client: AcontextClient, text: string, recursive: boolean): Promise<Target> {
  if (!text.includes("://")) return { text, disk: text };
  let endpoint: Endpoint;
  try {
    endpoint = parseEndpoint(text);
  } catch (err) {
    if (err instanceof PlanError) throw new ExpectedError(err.message, { hint: err.hint, exitCode: 2 });
    throw err;
  }
  if (endpoint.kind !== "disk") {
    throw new ExpectedError(`${text} is not on a disk`, {
      hint: "disk rm deletes disks (DISK_ID) and files on them (disk://DISK_ID/path); in a sandbox: acontext sandbox exec ID -- rm PATH",
      exitCode: 2,
    });
  }
  let isDir = endpoint.path.endsWith("/");
  let missing = false;
  if (!isDir) {
    // A path without its "/" may still name a directory: found out before anything is deleted.
    try {
      await client.getArtifact(endpoint.diskId, endpoint.path);
    } catch (err) {
      if (!(err instanceof APIError && err.status === 404 && err.message === "artifact not found")) throw err;
      const listing = await client.listDirectory(endpoint.diskId, asDirectory(endpoint.path));
      isDir = listing.artifacts.length > 0 || listing.directories.length > 0;
      missing = !isDir;
    }
  }
  if (!isDir) return { text, file: endpoint, missing };
  if (!recursive) throw new ExpectedError(`${text} is a directory`, { hint: "delete it and everything under it with -r", exitCode: 2 });
  return { text, dir: { ...endpoint, path: asDirectory(endpoint.path) } };
}
