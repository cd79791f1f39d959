import { resolve } from "node:path";
import { Command } from "commander";
import { UsageError } from "../../shared/errors.js";
import { defaultDataDir } from "../defaults.js";
import { importEsm } from "../esm.js";
import { isInteractive, say } from "../output.js";

export function serverStopCommand(): Command {
  return new Command("stop")
    .description("stop the background server of a data dir (its running sandboxes die with it)")
    .option("--data-dir <dir>", "the server's data dir")
    .option("-f, --force", "stop it even when sandboxes are running, without asking")
    .addHelpText(
      "after",
      `
With sandboxes running it asks first on a terminal; without one it needs --force.

Examples:
  $ acontext server stop
  $ acontext server stop --force --data-dir ./data`,
    )
    .action(async (flags: { dataDir?: string; force?: boolean }) => {
      const dataDir = resolve(flags.dataDir ?? defaultDataDir());
      const { runningSandboxes, stopServer } = await import("../server-control.js");
      const running = flags.force ? 0 : await runningSandboxes(dataDir);
      if (running) {
        const what = `${running} running sandbox${running === 1 ? "" : "es"}`;
        if (!isInteractive()) {
          throw new UsageError(`stopping the server kills its ${what}`, "stop it anyway with --force; see them with: acontext sandbox ls");
        }
        const { confirm } = await importEsm<typeof import("@inquirer/prompts")>("@inquirer/prompts");
        const sure = await confirm({ message: `Stop the server and kill its ${what}?`, default: false }, { output: process.stderr });
        if (!sure) {
          say("left the server running");
          return;
        }
      }
      const stopped = await stopServer(dataDir);
      say(stopped ? `stopped the acontext server at ${stopped.url} (pid ${stopped.pid})` : `no acontext server is running for ${dataDir}`);
    });
}
