import { Command } from "commander";
import { ExpectedError } from "../../shared/errors.js";
import { addTargetOptions, withApi } from "../api.js";
import { print, printJson } from "../output.js";

export function sandboxGetCommand(): Command {
  return addTargetOptions(new Command("get"))
    .description("show a sandbox: status, created, expires or killed, keepalive, the commands run in it")
    .argument("<id>", "sandbox id")
    .option("--json", "print JSON: the same shape as each item of sandbox ls --json")
    .addHelpText("after", "\nExamples:\n  $ acontext sandbox get $SANDBOX\n  $ acontext sandbox get $SANDBOX --json | jq .history")
    .action(async (id: string, flags: { json?: boolean; baseUrl?: string; apiKey?: string }) => {
      const { fromLog } = await import("../sandbox-view.js");
      // From the sandbox logs, which every Acontext API has: one shape with `sandbox ls`.
      const log = await withApi(flags, "list sandboxes: acontext sandbox ls -a", async ({ client }) => {
        for await (const entry of client.allSandboxes()) if (entry.id === id) return entry;
        return undefined;
      });
      if (!log) throw new ExpectedError(`sandbox ${id} not found`, { hint: "list sandboxes: acontext sandbox ls -a" });
      const view = fromLog(log);
      if (flags.json) {
        printJson(view);
        return;
      }
      print(`id         ${view.id}`);
      print(`status     ${view.status}`);
      print(`created    ${view.created_at}`);
      if (view.status === "running") print(`expires    ${view.expires_at} (if idle until then)`);
      else print(`killed     ${view.killed_at}`);
      if (view.keepalive_seconds !== null) print(`keepalive  ${view.keepalive_seconds} s`);
      print(`execs      ${view.history.length}`);
      for (const { command, exit_code } of view.history) print(`  ${exit_code === 0 ? " " : "!"} ${command.replace(/\n/g, "\\n")}  (exit ${exit_code})`);
    });
}
