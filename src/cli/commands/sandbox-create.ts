import { Command } from "commander";
import { addTargetOptions, withApi } from "../api.js";
import { parseDurationFlag } from "../flags.js";
import { print, printJson, say } from "../output.js";

export function sandboxCreateCommand(): Command {
  return addTargetOptions(new Command("create"))
    .description("create a sandbox; prints its id")
    .option("--keepalive <duration>", "idle time before it is killed, e.g. 10m (default: the API's, 10m)", parseDurationFlag)
    .option("--network", "allow outbound network (where the API supports it)")
    .option("--json", "print the sandbox as JSON: the shape of sandbox get --json")
    .addHelpText("after", "\nExamples:\n  $ SANDBOX=$(acontext sandbox create)\n  $ acontext sandbox create --keepalive 1h --json")
    .action(async (flags: { keepalive?: number; network?: boolean; json?: boolean; baseUrl?: string; apiKey?: string }) => {
      const info = await withApi(flags, "acontext sandbox ls -a", ({ client }) =>
        client.createSandbox({
          ...(flags.keepalive ? { keepalive_seconds: Math.ceil(flags.keepalive) } : {}),
          ...(flags.network ? { network: true } : {}),
        }),
      );
      for (const warning of info.warnings ?? []) say(`warning: ${warning}`);
      const { fromCreated } = await import("../sandbox-view.js");
      if (flags.json) printJson(fromCreated(info, flags.keepalive ? Math.ceil(flags.keepalive) : undefined));
      else print(info.sandbox_id);
    });
}
