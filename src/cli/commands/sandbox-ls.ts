import { Command } from "commander";
import { addTargetOptions, withApi } from "../api.js";
import { print, printJson } from "../output.js";

export function sandboxLsCommand(): Command {
  return addTargetOptions(new Command("ls"))
    .alias("list")
    .description("list running sandboxes (-a: killed ones too)")
    .option("-a, --all", "include killed sandboxes")
    .option("--json", "print JSON")
    .action(async (flags: { all?: boolean; json?: boolean; baseUrl?: string; apiKey?: string }) => {
      const sandboxes = await withApi(flags, "acontext sandbox ls -a", async ({ client }) => {
        const all = [];
        for await (const sandbox of client.allSandboxes()) all.push(sandbox);
        return all;
      });
      const shown = sandboxes
        .map((s) => ({ ...s, status: s.backend_sandbox_id ? "running" : "killed" }))
        .filter((s) => flags.all || s.status === "running");
      if (flags.json) printJson(shown);
      else if (process.stdout.isTTY) {
        print(`${"SANDBOX ID".padEnd(38)}${"STATUS".padEnd(9)}${"EXECS".padEnd(7)}CREATED`);
        for (const s of shown) print(`${s.id.padEnd(38)}${s.status.padEnd(9)}${String(s.history_commands.length).padEnd(7)}${s.created_at}`);
      } else for (const s of shown) print(s.id);
    });
}
