import { resolve } from "node:path";
import { Command, Option } from "commander";
import { EXIT } from "../../shared/errors.js";
import { addTargetOptions, withApi } from "../api.js";
import { parseDurationFlag } from "../flags.js";
import { print, say } from "../output.js";
import { readProfile } from "../profile.js";
import { resolveTarget } from "../target.js";

interface Flags {
  disk?: string;
  sandbox?: string;
  network?: boolean;
  keepalive?: number;
  printConfig?: string | true;
  baseUrl?: string;
  apiKey?: string;
}

export function mcpCommand(version: string): Command {
  return addTargetOptions(new Command("mcp"))
    .description("serve the agent tools (bash, text editor, export, disk files) to an MCP client, over stdio")
    .option("--disk <id>", "use this disk (default: one made on first use, kept afterwards)")
    .option("--sandbox <id>", "use this sandbox, and leave it running (default: one made on first use, killed at the end)")
    .option("--network", "give the sandbox outbound network (where the API supports it)")
    .option("--keepalive <duration>", "idle time before a sandbox of a vanished session dies, e.g. 10m (default: the API's)", parseDurationFlag)
    .addOption(
      new Option("--print-config [client]", "print the JSON that registers this server with an MCP client, and exit").choices(["claude", "cursor", "vscode"]),
    )
    .addHelpText(
      "after",
      `
Tools: bash_execution_sandbox, text_editor_sandbox, export_file_sandbox, write_file_disk,
read_file_disk, replace_string_disk, list_disk, grep_disk, glob_disk, download_file_disk
(upstream's agent tools: the same names, arguments and answers).

stdout carries the protocol only; the log goes to stderr. The sandbox is made on the first
sandbox tool call and killed when the client disconnects or this process is signalled.

Examples:
  $ acontext mcp --print-config claude     # paste into claude_desktop_config.json
  $ acontext mcp --print-config vscode     # .vscode/mcp.json
  $ claude mcp add acontext -- acontext mcp`,
    )
    .action(async (flags: Flags) => {
      if (flags.printConfig !== undefined) return printConfig(flags);
      process.exitCode = await serve(flags, version);
    });
}

async function serve(flags: Flags, version: string): Promise<number> {
  // Whatever a dependency might print must not corrupt the protocol on stdout.
  console.log = console.error;
  console.info = console.error;
  console.debug = console.error;
  if (process.stdin.isTTY) say("acontext mcp speaks MCP on stdin and stdout: an MCP client starts it (see acontext mcp --print-config); Ctrl-C stops it");
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => controller.abort(name);
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const name of signals) process.on(name, onSignal);
  try {
    const ending = await withApi(flags, "list disks and sandboxes: acontext disk ls, acontext sandbox ls -a", async ({ client, description }) => {
      // The MCP SDK loads here, never at start-up.
      const { serveMcp } = await import("../../mcp/server.js");
      return serveMcp({
        client,
        version,
        diskId: flags.disk,
        sandboxId: flags.sandbox,
        network: flags.network,
        keepaliveSeconds: flags.keepalive ? Math.ceil(flags.keepalive) : undefined,
        signal: controller.signal,
        log: say,
        // The local server is started again on demand, as for every command; a remote one is not.
        reconnect:
          description.baseUrlSource === "local"
            ? async () => (await (await import("../connect.js")).connect({ baseUrl: flags.baseUrl, apiKey: flags.apiKey })).client
            : undefined,
      });
    });
    if (ending !== "signal") return EXIT.ok;
    return controller.signal.reason === "SIGINT" ? EXIT.interrupted : EXIT.terminated;
  } finally {
    for (const name of signals) process.off(name, onSignal);
  }
}

async function printConfig(flags: Flags): Promise<void> {
  const { configSnippet, CONFIG_FILES } = await import("../../mcp/config.js");
  const client = flags.printConfig === true ? "claude" : (flags.printConfig as "claude" | "cursor" | "vscode");
  const target = resolveTarget({ flags, env: process.env, profile: await readProfile() });
  // What the server needs and would not find by itself: a URL and key given here (a login's
  // profile it reads itself), and the local server's settings from the environment.
  const env: Record<string, string> = {};
  if (target.kind === "remote") {
    if (target.baseUrlSource === "flag" || target.baseUrlSource === "env") env.ACONTEXT_BASE_URL = target.baseUrl;
    if (target.apiKeySource === "flag" || target.apiKeySource === "env") env.ACONTEXT_API_KEY = target.apiKey;
  } else {
    for (const name of ["ACONTEXT_DATA_DIR", "ACONTEXT_SERVER_PORT"]) if (process.env[name]) env[name] = process.env[name]!;
  }
  const args = [resolve(process.argv[1]!), "mcp"];
  if (flags.disk) args.push("--disk", flags.disk);
  if (flags.sandbox) args.push("--sandbox", flags.sandbox);
  if (flags.network) args.push("--network");
  if (flags.keepalive) args.push("--keepalive", `${Math.ceil(flags.keepalive)}s`);
  print(JSON.stringify(configSnippet(client, { command: process.execPath, args, env }), null, 2));
  say(`put this in ${CONFIG_FILES[client]}`);
  if (env.ACONTEXT_API_KEY) say("it holds your API key: keep that file private");
}
