import { Command } from "commander";
import { formatSize } from "../../shared/units.js";
import { addTargetOptions, withApi } from "../api.js";
import { print, printJson } from "../output.js";

interface Flags {
  recursive?: boolean;
  json?: boolean;
  baseUrl?: string;
  apiKey?: string;
}

export function diskLsCommand(): Command {
  return addTargetOptions(new Command("ls"))
    .alias("list")
    .description("list disks, or the files in disk://DISK_ID/dir/")
    .argument("[location]", "disk://DISK_ID/dir/ to list files; nothing to list disks")
    .option("-R, --recursive", "list files in subdirectories too")
    .option("--json", "print JSON")
    .addHelpText("after", "\nExamples:\n  $ acontext disk ls\n  $ acontext disk ls disk://DISK_ID/\n  $ acontext disk ls -R disk://DISK_ID/docs/ --json")
    .action(async (location: string | undefined, flags: Flags) => {
      if (!location) {
        const disks = await withApi(flags, "acontext disk ls", async ({ client }) => {
          const all = [];
          for await (const disk of client.allDisks()) all.push(disk);
          return all;
        });
        if (flags.json) printJson(disks);
        else if (process.stdout.isTTY) {
          print(`${"DISK ID".padEnd(38)}CREATED`);
          for (const disk of disks) print(`${disk.id.padEnd(38)}${disk.created_at}`);
        } else for (const disk of disks) print(disk.id);
        return;
      }
      const { listFiles } = await import("../../transfer/list.js");
      const entries = await withApi(flags, "list the disks: acontext disk ls", ({ client }) => listFiles(client, location, Boolean(flags.recursive)));
      if (flags.json) printJson(entries);
      else if (process.stdout.isTTY) {
        for (const entry of entries) print(`${(entry.type === "dir" ? "-" : formatSize(entry.size ?? 0)).padStart(10)}  ${entry.path}`);
      } else for (const entry of entries) print(entry.path);
    });
}
