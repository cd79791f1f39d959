import { Command } from "commander";
import { ExpectedError, UsageError } from "../../shared/errors.js";
import { say } from "../output.js";

export function loginCommand(): Command {
  return new Command("login")
    .description("save an API key (and base URL) for the hosted or a self-hosted Acontext")
    .option("--api-key <key>", "the key, sk-ac-…")
    .option("--base-url <url>", "the API (default: the hosted cloud)")
    .addHelpText("after", "\nExamples:\n  $ acontext login --api-key sk-ac-…\n  $ acontext login --api-key sk-ac-… --base-url http://my-acontext:8029")
    .action(async (flags: { apiKey?: string; baseUrl?: string }) => {
      const apiKey = flags.apiKey ?? process.env.ACONTEXT_API_KEY;
      if (!apiKey) throw new UsageError("login needs an API key", "acontext login --api-key sk-ac-… (or set ACONTEXT_API_KEY)");
      const { CLOUD_BASE_URL, normalizeBaseUrl } = await import("../target.js");
      const baseUrl = normalizeBaseUrl(flags.baseUrl ?? CLOUD_BASE_URL);
      const { AcontextClient } = await import("../../client/client.js");
      const { explain } = await import("../connect.js");
      const connection = {
        client: new AcontextClient(baseUrl, apiKey),
        description: { baseUrl, baseUrlSource: "flag" as const, apiKeySource: "flag" as const },
      };
      try {
        await connection.client.ping();
      } catch (err) {
        const explained = explain(err, connection, "check --base-url");
        throw explained instanceof ExpectedError ? new ExpectedError(`not saved: ${explained.message}`, { hint: explained.hint }) : explained;
      }
      const { writeProfile } = await import("../profile.js");
      const file = await writeProfile({ base_url: baseUrl, api_key: apiKey });
      say(`logged in to ${baseUrl} (saved in ${file})`);
    });
}

export function logoutCommand(): Command {
  return new Command("logout")
    .description("forget the saved API key; commands then use the local server")
    .addHelpText("after", "\nExample:\n  $ acontext logout")
    .action(async () => {
      const { deleteProfile, profilePath } = await import("../profile.js");
      say((await deleteProfile()) ? `logged out (removed ${profilePath()})` : "not logged in");
    });
}
