import { Command } from "commander";
import { defaultDataDir } from "../defaults.js";
import { UsageError } from "../errors.js";
import { print, printJson } from "../output.js";

export function whoamiCommand(): Command {
  return new Command("whoami")
    .alias("config")
    .description("show which Acontext API commands use, and where that choice comes from")
    .option("--base-url <url>", "as commands would get it")
    .option("--api-key <key>", "as commands would get it")
    .option("--json", "print JSON")
    .action(async (flags: { baseUrl?: string; apiKey?: string; json?: boolean }) => {
      const { resolveTarget, TargetError } = await import("../../client/target.js");
      const { readProfile } = await import("../../client/profile.js");
      let target;
      try {
        target = resolveTarget({ flags, env: process.env, profile: await readProfile() });
      } catch (err) {
        if (err instanceof TargetError) throw new UsageError(err.message, err.hint);
        throw err;
      }
      let info: Record<string, unknown>;
      if (target.kind === "remote") {
        info = { target: "remote", base_url: target.baseUrl, base_url_from: target.baseUrlSource, api_key: mask(target.apiKey), api_key_from: target.apiKeySource };
      } else {
        const { readServerInfo } = await import("../../server/info.js");
        const dataDir = defaultDataDir();
        const running = readServerInfo(dataDir);
        info = { target: "local", data_dir: dataDir, running: Boolean(running), base_url: running ? `${running.url}/api/v1` : null };
      }
      if (flags.json) {
        printJson(info);
        return;
      }
      if (target.kind === "remote") {
        print(`${info.base_url} (from ${info.base_url_from}), key ${info.api_key} (from ${info.api_key_from})`);
      } else {
        print(`the local server (data ${info.data_dir}): ${info.running ? `running at ${info.base_url}` : "not running; commands start it"}`);
      }
    });
}

function mask(key: string): string {
  return key.length > 12 ? `${key.slice(0, 8)}…${key.slice(-4)}` : "…";
}
