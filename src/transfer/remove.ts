// `disk rm`: whole disks by id, files by disk:// path, directories with -r. Goes on past a
// failure and reports each one; returns how many failed.
import { CliError } from "../cli/errors.js";
import { APIError, type AcontextClient } from "../client/client.js";
import { listFiles } from "./list.js";
import { parseEndpoint } from "./plan.js";

export async function removeTargets(client: AcontextClient, targets: string[], recursive: boolean, report: (line: string) => void): Promise<number> {
  let failures = 0;
  for (const target of targets) {
    try {
      if (!target.includes("://")) {
        await client.deleteDisk(target);
        report(`deleted disk ${target}`);
        continue;
      }
      const endpoint = parseEndpoint(target);
      if (endpoint.kind !== "disk") throw new CliError(`${target} is not on a disk`);
      if (endpoint.path.endsWith("/")) {
        if (!recursive) throw new CliError(`${target} is a directory: pass -r to delete it and everything under it`);
        const files = (await listFiles(client, target, true)).filter((e) => e.type === "file");
        if (!files.length) throw new CliError(`${target}: no such directory`);
        for (const file of files) await client.deleteArtifact(endpoint.diskId, file.path);
        report(`deleted ${target} (${files.length} file${files.length === 1 ? "" : "s"})`);
      } else {
        await client.deleteArtifact(endpoint.diskId, endpoint.path);
        report(`deleted ${target}`);
      }
    } catch (err) {
      if (!(err instanceof CliError || err instanceof APIError)) throw err;
      failures++;
      report(`error: ${target}: ${err.message}`);
    }
  }
  return failures;
}
