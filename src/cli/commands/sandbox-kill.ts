import { Command } from "commander";
import { ExpectedError, UsageError } from "../../shared/errors.js";
import { addTargetOptions, withApi } from "../api.js";
import { say } from "../output.js";

export function sandboxKillCommand(): Command {
  return addTargetOptions(new Command("kill"))
    .alias("rm")
    .description("kill sandboxes: every process and every byte of them")
    .argument("[ids...]", "sandbox ids")
    .option("--all", "kill every running sandbox")
    .addHelpText("after", "\nExamples:\n  $ acontext sandbox kill $SANDBOX\n  $ acontext sandbox kill --all")
    .action(async (ids: string[], flags: { all?: boolean; baseUrl?: string; apiKey?: string }) => {
      if (!ids.length && !flags.all) throw new UsageError("say which sandboxes to kill", "acontext sandbox kill ID… or --all");
      if (ids.length && flags.all) throw new UsageError("give ids or --all, not both");
      const failures = await withApi(flags, "list sandboxes: acontext sandbox ls", async ({ client }) => {
        let targets = ids;
        if (flags.all) {
          targets = [];
          for await (const s of client.allSandboxes()) if (s.backend_sandbox_id) targets.push(s.id);
        }
        let failed = 0;
        for (const id of targets) {
          try {
            await client.killSandbox(id);
            say(`killed ${id}`);
          } catch (err) {
            failed++;
            say(`error: ${id}: ${(err as Error).message}`);
          }
        }
        return failed;
      });
      if (failures)
        throw new ExpectedError(`${failures} sandbox${failures === 1 ? "" : "es"} could not be killed`, { hint: "list them: acontext sandbox ls -a" });
    });
}
