import { Command } from "commander";
import { ExpectedError } from "../../shared/errors.js";
import { addTargetOptions, withApi } from "../api.js";
import { importEsm } from "../esm.js";
import { isInteractive, say } from "../output.js";

interface Flags {
  yes?: boolean;
  recursive?: boolean;
  baseUrl?: string;
  apiKey?: string;
}

export function diskRmCommand(): Command {
  return addTargetOptions(new Command("rm"))
    .description("delete disks (DISK_ID…) or files on a disk (disk://DISK_ID/path…)")
    .argument("<targets...>", "disk ids, or disk://DISK_ID/path of files (with -r: directories)")
    .option("-r, --recursive", "delete a directory on a disk and everything under it")
    .option("-y, --yes", "do not ask before deleting whole disks")
    .addHelpText(
      "after",
      "\nExamples:\n  $ acontext disk rm DISK_ID -y\n  $ acontext disk rm disk://DISK_ID/docs/old.md\n  $ acontext disk rm -r disk://DISK_ID/tmp/",
    )
    .action(async (targets: string[], flags: Flags) => {
      const disks = targets.filter((t) => !t.includes("://"));
      if (disks.length && !flags.yes) {
        if (!isInteractive()) {
          throw new ExpectedError(`deleting ${disks.length === 1 ? "a disk" : `${disks.length} disks`} needs confirmation`, {
            hint: "pass -y to delete without asking",
            exitCode: 2,
          });
        }
        const { confirm } = await importEsm<typeof import("@inquirer/prompts")>("@inquirer/prompts");
        const sure = await confirm(
          { message: `Delete ${disks.join(", ")} and every file on ${disks.length === 1 ? "it" : "them"}?`, default: false },
          { output: process.stderr },
        );
        if (!sure) return;
      }
      const { removeTargets } = await import("../../transfer/remove.js");
      const failures = await withApi(flags, "see what is there: acontext disk ls (disks) or acontext disk ls disk://DISK_ID/ (files)", ({ client }) =>
        removeTargets(client, targets, Boolean(flags.recursive), (line) => say(line)),
      );
      if (failures) throw new ExpectedError(`${failures} of ${targets.length} could not be deleted`, { hint: "see what is there: acontext disk ls" });
    });
}
