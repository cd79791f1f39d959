import { Command } from "commander";
import { addTargetOptions, withApi } from "../api.js";
import { print, printJson } from "../output.js";

export function sandboxLsCommand(): Command {
  return addTargetOptions(new Command("ls"))
    .alias("list")
    .description("list running sandboxes (-a: killed ones too)")
    .option("-a, --all", "include killed sandboxes")
    .option("--json", "print JSON: one object per sandbox, the shape of sandbox get --json")
    .addHelpText("after", "\nExamples:\n  $ acontext sandbox ls\n  $ acontext sandbox ls -a --json | jq -r '.[] | select(.status == \"killed\") | .id'")
    .action(async (flags: { all?: boolean; json?: boolean; baseUrl?: string; apiKey?: string }) => {
      const { fromLog } = await import("../sandbox-view.js");
      const sandboxes = await withApi(flags, "acontext sandbox ls -a", async ({ client }) => {
        const all = [];
        for await (const sandbox of client.allSandboxes()) all.push(fromLog(sandbox));
        return all;
      });
      const shown = sandboxes.filter((s) => flags.all || s.status === "running");
      if (flags.json) printJson(shown);
      else if (process.stdout.isTTY) {
        print(`${"SANDBOX ID".padEnd(38)}${"STATUS".padEnd(9)}${"EXECS".padEnd(7)}${"CREATED".padEnd(26)}EXPIRES / KILLED`);
        for (const s of shown) {
          print(`${s.id.padEnd(38)}${s.status.padEnd(9)}${String(s.history.length).padEnd(7)}${s.created_at.padEnd(26)}${s.expires_at ?? s.killed_at}`);
        }
      } else for (const s of shown) print(s.id);
    });
}
