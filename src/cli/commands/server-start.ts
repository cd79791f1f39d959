import { homedir } from "node:os";
import { resolve } from "node:path";
import { Command } from "commander";
import { DEFAULT_SERVER_PORT, defaultDataDir } from "../defaults.js";
import { parseCountFlag, parseListenPort, parseSizeFlag } from "../flags.js";
import { UsageError } from "../errors.js";
import { print, printJson, say, style } from "../output.js";


const DEFAULT_MAX_UPLOAD = 1024 ** 3;
const DEFAULT_WARM = 1;

interface Flags {
  port: number;
  host: string;
  dataDir?: string;
  apiKey?: string;
  maxUpload: number;
  warm?: number;
  detach?: boolean;
  json?: boolean;
}

export function serverStartCommand(version: string): Command {
  return new Command("start")
    .description("start the server (foreground; --detach for background)")
    .option("-p, --port <port>", "port to listen on", parseListenPort, DEFAULT_SERVER_PORT)
    .option("--host <host>", "address to listen on (loopback by default)", "127.0.0.1")
    .option("--data-dir <dir>", `where disks, artifacts and the API key live (default: ${defaultDataDir().replace(homedir(), "~")})`)
    .option("--api-key <key>", "API key to require (default: ACONTEXT_SERVER_API_KEY, else the key in the data dir)")
    .option("--max-upload <size>", "largest artifact upload, e.g. 512MiB, 1GiB", parseSizeFlag, DEFAULT_MAX_UPLOAD)
    .option("--warm <n>", `sandboxes kept created ahead, so a create takes ~0 ms (default: ACONTEXT_WARM_SANDBOXES, else ${DEFAULT_WARM})`, parseCountFlag)
    .option("-d, --detach", "run in the background, logging to <data-dir>/server.log")
    .option("--json", "print {url, pid, data_dir, api_key_file} as JSON")
    .action(async (flags: Flags) => {
      const dataDir = resolve(flags.dataDir ?? defaultDataDir());
      const control = await import("../../server/control.js");
      const apiKey = flags.apiKey ?? (process.env.ACONTEXT_SERVER_API_KEY || undefined);
      const keySource = flags.apiKey ? "--api-key" : apiKey ? "ACONTEXT_SERVER_API_KEY" : undefined;
      const report = (result: { url: string; pid: number; data_dir: string; api_key_file: string }) => {
        if (flags.json) printJson(keySource ? { ...result, api_key_file: null } : result);
        else print(result.url);
        const key = keySource ? `API key from ${keySource}` : `API key in ${result.api_key_file}`;
        say(
          `${style("green", "acontext server")} ${flags.detach ? "running in the background" : "listening"} on ${result.url} ` +
            style("dim", `(pid ${result.pid}; data ${result.data_dir}; ${key})`),
        );
        say(style("dim", flags.detach ? "stop it with: acontext server stop" : "press Ctrl-C to stop"));
      };
      if (flags.detach) {
        // The key travels in the environment, not in argv where `ps` would show it.
        const argv = withoutFlags(process.argv.slice(1), ["--detach", "-d", "--json"], ["--api-key"]);
        report(await control.startDetached(argv, dataDir, apiKey));
        return;
      }
      await control.runForeground(
        {
          host: flags.host,
          port: flags.port,
          dataDir,
          apiKey,
          maxUploadBytes: flags.maxUpload,
          warmSandboxes: flags.warm ?? warmFromEnv(),
          version,
          log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
        },
        report,
      );
    });
}

function warmFromEnv(): number {
  const value = process.env.ACONTEXT_WARM_SANDBOXES;
  if (!value) return DEFAULT_WARM;
  try {
    return parseCountFlag(value);
  } catch {
    throw new UsageError(`ACONTEXT_WARM_SANDBOXES=${value} is not a whole number from 0 to 1000`);
  }
}

/** argv without some boolean flags and some flags with values (`--flag v` or `--flag=v`). */
export function withoutFlags(argv: string[], booleans: string[], withValues: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (booleans.includes(arg)) continue;
    if (withValues.includes(arg)) {
      i++;
      continue;
    }
    if (withValues.some((flag) => arg.startsWith(`${flag}=`))) continue;
    out.push(arg);
  }
  return out;
}
