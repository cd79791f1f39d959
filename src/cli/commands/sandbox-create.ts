import { Command } from "commander";
import { addTargetOptions, withApi } from "../api.js";
import { parseDurationFlag } from "../flags.js";
import { print, printJson } from "../output.js";

export function sandboxCreateCommand(): Command {
  return addTargetOptions(new Command("create"))
    .description("create a sandbox; prints its id")
    .option("--keepalive <duration>", "idle time before it is killed, e.g. 10m (default: the API's, 10m)", parseDurationFlag)
    .option("--network", "allow outbound network (where the API supports it)")
    .option("--json", "print the sandbox as JSON")
    .addHelpText("after", "\nExamples:\n  $ SANDBOX=$(acontext sandbox create)\n  $ acontext sandbox create --keepalive 1h --json")
    .action(async (flags: { keepalive?: number; network?: boolean; json?: boolean; baseUrl?: string; apiKey?: string }) => {
      const info = await withApi(flags, "acontext sandbox ls -a", ({ client }) =>
        client.createSandbox({
          ...(flags.keepalive ? { keepalive_seconds: Math.ceil(flags.keepalive) } : {}),
          ...(flags.network ? { network: true } : {}),
        }),
      );
      if (flags.json) printJson(info);
      else print(info.sandbox_id);
    });
}
