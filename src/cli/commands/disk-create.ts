import { Command } from "commander";
import { addTargetOptions, withApi } from "../api.js";
import { print, printJson } from "../output.js";

export function diskCreateCommand(): Command {
  return addTargetOptions(new Command("create"))
    .description("create a disk; prints its id")
    .option("--json", "print the disk as JSON: the shape of each item of disk ls --json")
    .addHelpText("after", "\nExamples:\n  $ DISK=$(acontext disk create)\n  $ acontext disk create --json")
    .action(async (flags: { json?: boolean; baseUrl?: string; apiKey?: string }) => {
      const disk = await withApi(flags, "acontext disk ls", ({ client }) => client.createDisk());
      if (flags.json) printJson(disk);
      else print(disk.id);
    });
}
