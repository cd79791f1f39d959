// disk glob and disk grep: find files on a disk by path pattern or by content.
import { Command } from "commander";
import { ExpectedError } from "../../shared/errors.js";
import { addTargetOptions, withApi } from "../api.js";
import { print, printJson } from "../output.js";

interface Flags {
  json?: boolean;
  baseUrl?: string;
  apiKey?: string;
}

function findCommand(name: "glob" | "grep", description: string, argument: string, example: string): Command {
  return addTargetOptions(new Command(name))
    .description(description)
    .argument("<disk>", "disk://DISK_ID")
    .argument(`<${argument}>`, argument)
    .option("--json", "print the matching artifacts as JSON")
    .addHelpText("after", `\nExample:\n  $ ${example}`)
    .action(async (disk: string, query: string, flags: Flags) => {
      const { parseEndpoint } = await import("../../transfer/plan.js");
      const endpoint = parseEndpoint(disk);
      if (endpoint.kind !== "disk") throw new ExpectedError(`${disk} is not a disk`, { hint: "write disk://DISK_ID", exitCode: 2 });
      const found = await withApi(flags, "list the disks: acontext disk ls", ({ client }) =>
        name === "glob" ? client.glob(endpoint.diskId, query) : client.grep(endpoint.diskId, query),
      );
      if (flags.json) printJson(found);
      else for (const artifact of found) print(`${artifact.path}${artifact.filename}`);
    });
}

export function diskGlobCommand(): Command {
  return findCommand(
    "glob",
    "list files whose path matches a pattern (* and ** match across /, ? one character)",
    "pattern",
    "acontext disk glob disk://DISK_ID '*.py'",
  );
}

export function diskGrepCommand(): Command {
  return findCommand(
    "grep",
    "list text files whose content matches a regular expression (case-insensitive)",
    "regex",
    "acontext disk grep disk://DISK_ID 'TODO|FIXME'",
  );
}
