import { resolve } from "node:path";
import { Command } from "commander";
import { defaultDataDir } from "../defaults.js";
import { say } from "../output.js";

export function serverStopCommand(): Command {
  return new Command("stop")
    .description("stop the background server of a data dir")
    .option("--data-dir <dir>", "the server's data dir")
    .action(async (flags: { dataDir?: string }) => {
      const dataDir = resolve(flags.dataDir ?? defaultDataDir());
      const { stopServer } = await import("../../server/control.js");
      const stopped = await stopServer(dataDir);
      say(stopped ? `stopped the acontext server at ${stopped.url} (pid ${stopped.pid})` : `no acontext server is running for ${dataDir}`);
    });
}
