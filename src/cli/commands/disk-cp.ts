import { Command } from "commander";
import { formatSize } from "../../shared/units.js";
import { addTargetOptions, withApi } from "../api.js";
import { printJson, say } from "../output.js";

interface Flags {
  recursive?: boolean;
  force?: boolean;
  json?: boolean;
  baseUrl?: string;
  apiKey?: string;
}

export function diskCpCommand(): Command {
  return addTargetOptions(new Command("cp"))
    .description("copy files between local paths, disks and sandboxes, in any direction (streamed)")
    .argument("<paths...>", "SRC… DST: local paths, disk://DISK_ID/path, sandbox://SANDBOX_ID/path, or - for stdin/stdout")
    .option("-r, --recursive", "copy directories")
    .option("-f, --force", "overwrite existing local files")
    .option("--json", "print {source, destination, files, bytes}")
    .addHelpText(
      "after",
      `
A destination ending in "/" (or an existing directory) receives sources by their name.

Examples:
  $ acontext disk cp report.csv disk://DISK_ID/data/
  $ acontext disk cp -r ./src disk://DISK_ID/code/
  $ acontext disk cp disk://DISK_ID/data/report.csv ./
  $ acontext disk cp disk://DISK_ID/data/report.csv - | head
  $ tar cz . | acontext disk cp - disk://DISK_ID/backup.tgz
  $ acontext disk cp report.csv sandbox://SANDBOX_ID/workspace/
  $ acontext disk cp -r disk://DISK_ID/code/ sandbox://SANDBOX_ID/workspace/   # server-side
  $ acontext disk cp sandbox://SANDBOX_ID/workspace/out.txt ./`,
    )
    .action(async (paths: string[], flags: Flags) => {
      if (paths.length < 2) {
        const { UsageError } = await import("../../shared/errors.js");
        throw new UsageError("disk cp needs a source and a destination", "acontext disk cp SRC… DST");
      }
      const destination = paths[paths.length - 1]!;
      const { copy } = await import("../../transfer/copy.js");
      const { createProgress } = await import("../progress.js");
      const progress = createProgress(Boolean(process.stderr.isTTY) && destination !== "-");
      let only: { from: string; to: string } | undefined;
      const summary = await withApi(flags, "check the disk id and path: acontext disk ls disk://DISK_ID/", ({ client }) =>
        copy(client, paths.slice(0, -1), destination, {
          recursive: Boolean(flags.recursive),
          force: Boolean(flags.force),
          progress,
          onFile: (from, to) => {
            only = { from: from === "-" ? "stdin" : from, to };
          },
        }),
      );
      if (flags.json) printJson(summary);
      else if (destination === "-") return;
      else if (summary.files === 1 && only) say(`copied ${only.from} (${formatSize(summary.bytes)}) to ${only.to}`);
      else say(`copied ${summary.files} file${summary.files === 1 ? "" : "s"} (${formatSize(summary.bytes)}) to ${destination}`);
    });
}
