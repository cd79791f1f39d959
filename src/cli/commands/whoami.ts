import { Command } from "commander";
import { defaultDataDir } from "../defaults.js";
import { print, printJson } from "../output.js";

export function whoamiCommand(): Command {
  return new Command("whoami")
    .alias("config")
    .description("show which Acontext API commands use, and where that choice comes from")
    .addHelpText(
      "after",
      `
Order: --base-url/--api-key, then ACONTEXT_BASE_URL/ACONTEXT_API_KEY, then \`acontext login\`, else the
local server. A key without a base URL means the hosted cloud.

Examples:
  $ acontext whoami
  $ ACONTEXT_API_KEY=sk-ac-… acontext whoami      # the hosted cloud, and why
  $ acontext whoami --json`,
    )
    .option("--base-url <url>", "as commands would get it")
    .option("--api-key <key>", "as commands would get it")
    .option("--json", "print JSON")
    .action(async (flags: { baseUrl?: string; apiKey?: string; json?: boolean }) => {
      const { resolveTarget } = await import("../target.js");
      const { readProfile } = await import("../profile.js");
      const target = resolveTarget({ flags, env: process.env, profile: await readProfile() });
      let info: Record<string, unknown>;
      if (target.kind === "remote") {
        info = {
          target: "remote",
          base_url: target.baseUrl,
          base_url_from: target.baseUrlSource,
          api_key: mask(target.apiKey),
          api_key_from: target.apiKeySource,
        };
      } else {
        const { readServerInfo } = await import("../../server/info.js");
        const dataDir = defaultDataDir();
        const running = readServerInfo(dataDir);
        info = { target: "local", data_dir: dataDir, running: Boolean(running), base_url: running ? `${running.url}/api/v1` : null };
        if (running) info.sandboxes = await sandboxesOf(`${running.url}/api/v1`, running.api_key);
      }
      if (flags.json) {
        printJson(info);
        return;
      }
      if (target.kind === "remote") {
        const { describeApi, sourceName, urlOrigin } = await import("../target.js");
        print(`${describeApi(target.baseUrl)} (${urlOrigin(target)}), key ${info.api_key} (from ${sourceName(target.apiKeySource, "key")})`);
      } else {
        const sandboxes = info.sandboxes as { backend?: string; isolation?: string; unavailable?: string } | undefined;
        const how = !sandboxes
          ? ""
          : sandboxes.backend
            ? `; sandboxes: ${sandboxes.backend}, ${sandboxes.isolation}`
            : `; no sandboxes: ${sandboxes.unavailable}`;
        print(`the local server (data ${info.data_dir}): ${info.running ? `running at ${info.base_url}${how}` : "not running; commands start it"}`);
      }
    });
}

/** Which backend runs the local server's sandboxes, and on what (an engine and its version, say). */
async function sandboxesOf(baseUrl: string, apiKey: string): Promise<unknown> {
  const { AcontextClient } = await import("../../client/client.js");
  const status = await new AcontextClient(baseUrl, apiKey).call<{ sandboxes?: Record<string, unknown> }>("GET", "/server/status").catch(() => undefined);
  const sandboxes = status?.sandboxes;
  return sandboxes && { backend: sandboxes.backend, isolation: sandboxes.isolation, unavailable: sandboxes.unavailable };
}

function mask(key: string): string {
  return key.length > 12 ? `${key.slice(0, 8)}…${key.slice(-4)}` : "…";
}
