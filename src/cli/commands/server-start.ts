import { homedir } from "node:os";
import { resolve } from "node:path";
import { Command, Option } from "commander";
import { BACKENDS, type BackendName } from "../../server/backends.js";
import { UsageError } from "../../shared/errors.js";
import { DEFAULT_SERVER_PORT, defaultDataDir } from "../defaults.js";
import { parseCountFlag, parseDurationFlag, parseListenPort, parsePositiveFlag, parseSizeFlag } from "../flags.js";
import { print, printJson, say, style } from "../output.js";

const DEFAULT_MAX_UPLOAD = 1024 ** 3;
// JSON bodies are exec specs, meta and transfer requests. 2 MiB is Linux's default ARG_MAX: a
// command with its environment cannot be longer anyway; larger stdin streams as a raw body.
const DEFAULT_MAX_BODY = 2 * 1024 ** 2;
const DEFAULT_WARM = 1;
const DEFAULT_DISK_QUOTA = 10 * 1024 ** 3;

interface Flags {
  port?: number;
  host?: string;
  dataDir?: string;
  apiKey?: string;
  maxUpload?: number;
  maxBody?: number;
  diskQuota?: number;
  transferTimeout?: number;
  maxListedFiles?: number;
  maxBufferedExecs?: number;
  maxConnections?: number;
  maxSandboxes?: number;
  warm?: number;
  backend?: BackendName;
  image?: string;
  detach?: boolean;
  json?: boolean;
}

export function serverStartCommand(version: string): Command {
  return new Command("start")
    .description("start the server (foreground; --detach for background)")
    .option("-p, --port <port>", `port to listen on (default: ACONTEXT_SERVER_PORT, else ${DEFAULT_SERVER_PORT}; 0 picks a free one)`, parseListenPort)
    .option("--host <host>", "address to listen on (default 127.0.0.1: this machine only)")
    .option("--data-dir <dir>", `where disks, artifacts and the API key live (default: ${defaultDataDir().replace(homedir(), "~")})`)
    .option("--api-key <key>", "API key to require (default: ACONTEXT_SERVER_API_KEY, else the key in the data dir)")
    .option("--max-upload <size>", "largest artifact upload, e.g. 512MiB (default 1GiB)", parseSizeFlag)
    .option("--max-body <size>", "largest JSON or form request body, e.g. 8MiB (default: ACONTEXT_SERVER_MAX_BODY, else 2MiB)", parseSizeFlag)
    .option("--disk-quota <size>", "bytes one disk may hold, e.g. 50GiB (default: ACONTEXT_SERVER_DISK_QUOTA, else 10GiB)", parseSizeFlag)
    .option("--transfer-timeout <duration>", "longest a sandbox file transfer or listing may take (default 30m)", parseDurationFlag)
    .option("--max-listed-files <n>", "most files a recursive sandbox transfer takes (default 10000)", parsePositiveFlag)
    .option("--max-sandboxes <n>", "sandboxes running at once, server-wide (default 64)", parsePositiveFlag)
    .option("--max-buffered-execs <n>", "buffered (JSON) execs at once, server-wide (default 32; streamed execs do not count)", parsePositiveFlag)
    .option("--max-connections <n>", "connections at once (default 1000, or a quarter of the descriptors the server may open)", parsePositiveFlag)
    .addOption(
      new Option(
        "--backend <name>",
        "what runs the sandboxes: local namespaces, a container engine, or auto (default: ACONTEXT_SANDBOX_BACKEND, else auto)",
      ).choices(BACKENDS),
    )
    .option("--image <image>", "the container image of docker sandboxes (default: ACONTEXT_SANDBOX_IMAGE, else one built from the bundled Dockerfile)")
    .option(
      "--warm <n>",
      `sandboxes kept created ahead with the last create's limits, so the next create takes a few ms instead of tens (default: ACONTEXT_WARM_SANDBOXES, else ${DEFAULT_WARM})`,
      parseCountFlag,
    )
    .option("-d, --detach", "run in the background, logging to <data-dir>/server.log")
    .option("--json", "print {url, pid, data_dir, api_key_file} as JSON")
    .addHelpText(
      "after",
      `
Commands that use the local server start it on demand (in the background); this runs it yourself.

Examples:
  $ acontext server start                        # foreground; Ctrl-C stops it
  $ acontext server start --detach               # background; stop it with: acontext server stop
  $ acontext server start --port 0 --data-dir ./data --max-upload 4GiB`,
    )
    .action(async (flags: Flags) => {
      const dataDir = resolve(flags.dataDir ?? defaultDataDir());
      const host = flags.host ?? "127.0.0.1";
      const apiKey = flags.apiKey ?? (process.env.ACONTEXT_SERVER_API_KEY || undefined);
      const keySource = flags.apiKey ? "--api-key" : apiKey ? "ACONTEXT_SERVER_API_KEY" : undefined;
      const { isLoopbackHost } = await import("../loopback.js");
      if (!isLoopbackHost(host)) {
        // Anyone who can reach the port and holds the key runs commands in its sandboxes; a key
        // made in the data dir, which the user may never have looked at, is not a choice.
        if (!keySource) {
          throw new UsageError(
            `--host ${host} makes the server reachable from other machines: it needs an API key you chose`,
            "set one with --api-key <key> or ACONTEXT_SERVER_API_KEY (a key generated in the data dir does not count), or keep --host 127.0.0.1",
          );
        }
        say(
          style(
            "yellow",
            `warning: listening on ${host} makes the server reachable from other machines; anyone with the API key can run commands in its sandboxes`,
          ),
        );
      }
      const port = flags.port ?? fromEnv("ACONTEXT_SERVER_PORT", envPort, DEFAULT_SERVER_PORT);
      const control = await import("../server-control.js");
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
          host,
          port,
          dataDir,
          apiKey,
          maxUploadBytes: flags.maxUpload ?? DEFAULT_MAX_UPLOAD,
          maxBodyBytes: flags.maxBody ?? fromEnv("ACONTEXT_SERVER_MAX_BODY", parseSizeFlag, DEFAULT_MAX_BODY),
          diskQuotaBytes: flags.diskQuota ?? fromEnv("ACONTEXT_SERVER_DISK_QUOTA", parseSizeFlag, DEFAULT_DISK_QUOTA),
          sandboxPolicy: {
            ...(flags.transferTimeout && { transferTimeoutMs: flags.transferTimeout * 1000 }),
            ...(flags.maxListedFiles && { maxListedFiles: flags.maxListedFiles }),
            ...(flags.maxSandboxes && { maxSandboxes: flags.maxSandboxes }),
          },
          maxBufferedExecs: flags.maxBufferedExecs,
          maxConnections: flags.maxConnections,
          warmSandboxes: flags.warm ?? fromEnv("ACONTEXT_WARM_SANDBOXES", parseCountFlag, DEFAULT_WARM),
          backend: flags.backend ?? fromEnv("ACONTEXT_SANDBOX_BACKEND", parseBackend, "auto"),
          image: flags.image ?? (process.env.ACONTEXT_SANDBOX_IMAGE || undefined),
          version,
          log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
        },
        report,
      );
    });
}

function envPort(value: string): number {
  try {
    return parseListenPort(value);
  } catch {
    throw new Error("a port (a whole number from 0 to 65535)");
  }
}

function parseBackend(value: string): BackendName {
  if (!(BACKENDS as readonly string[]).includes(value)) throw new Error(`one of ${BACKENDS.join(", ")}`);
  return value as BackendName;
}

/**
 * A setting from the environment, for servers started by other commands (which pass no flags),
 * read with its flag's parser; a bad value is a usage error that names the variable.
 */
function fromEnv<T>(name: string, parse: (value: string) => T, fallback: T): T {
  const value = process.env[name];
  if (!value) return fallback;
  try {
    return parse(value);
  } catch (err) {
    throw new UsageError(`${name}=${value} is not ${(err as Error).message}`);
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
