// Connecting a command to its API: resolve the target (flag > env > profile > embedded server),
// start the embedded server on demand, and translate API failures into errors with hints.
import { join } from "node:path";
import { defaultDataDir, DEFAULT_SERVER_PORT } from "../cli/defaults.js";
import { CliError } from "../cli/errors.js";
import { say, style } from "../cli/output.js";
import { AcontextClient, APIError, ConnectionError } from "./client.js";
import { EXTENSIONS } from "./extensions.js";
import { readProfile } from "./profile.js";
import { resolveTarget, TargetError, type TargetSource } from "./target.js";

export interface TargetFlags {
  baseUrl?: string;
  apiKey?: string;
}

export interface Connection {
  client: AcontextClient;
  /** For messages: where the URL and key came from. */
  description: { baseUrl: string; baseUrlSource: TargetSource; apiKeySource: TargetSource | "data dir"; dataDir?: string };
}

export async function connect(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): Promise<Connection> {
  let target;
  try {
    target = resolveTarget({ flags, env, profile: await readProfile() });
  } catch (err) {
    if (err instanceof TargetError) throw new CliError(err.message, { hint: err.hint, exitCode: 2 });
    throw err;
  }
  if (target.kind === "remote") {
    return {
      client: new AcontextClient(target.baseUrl, target.apiKey),
      description: { baseUrl: target.baseUrl, baseUrlSource: target.baseUrlSource, apiKeySource: target.apiKeySource },
    };
  }
  const dataDir = defaultDataDir(env);
  const { readServerInfo } = await import("../server/info.js");
  let info = readServerInfo(dataDir);
  if (!info) {
    // Never for a remote target: only the embedded default starts on demand.
    const { startDetached } = await import("../server/control.js");
    const port = env.ACONTEXT_SERVER_PORT || String(DEFAULT_SERVER_PORT);
    const started = await startDetached([process.argv[1]!, "server", "start", "--data-dir", dataDir, "--port", port], dataDir, undefined);
    say(style("dim", `started local server at ${started.url} (acontext server stop to stop it)`));
    info = readServerInfo(dataDir);
    if (!info) throw new CliError(`the local server at ${started.url} stopped right after it started`, { hint: `see ${join(dataDir, "server.log")}` });
  }
  const baseUrl = `${info.url}/api/v1`;
  const client = new AcontextClient(baseUrl, info.api_key);
  // Our own server: every extension, no need to ask.
  client.extensions = new Set(EXTENSIONS);
  return {
    client,
    description: { baseUrl, baseUrlSource: "local", apiKeySource: "data dir", dataDir },
  };
}

/** An API failure as the user should read it: one line and a hint. Other errors pass through. */
export function explain(err: unknown, connection: Connection | undefined, notFoundHint: string): unknown {
  const where = connection?.description;
  if (err instanceof ConnectionError) {
    return new CliError(err.message, {
      hint:
        where?.baseUrlSource === "local"
          ? "the local server stopped; see `acontext server status`, or its log in the data dir"
          : `check the base URL (${err.url}, from ${where ? sourceName(where.baseUrlSource, "url") : "--base-url"}) and your network`,
      cause: err,
    });
  }
  if (err instanceof APIError) {
    const message = `${err.message} (HTTP ${err.status})${err.detail ? `: ${err.detail}` : ""}`;
    if (err.status === 401 || err.status === 403) {
      return new CliError(message, {
        hint:
          where?.baseUrlSource === "local"
            ? "the local server does not accept its data dir's key; restart it: acontext server stop"
            : `check the API key (from ${where ? sourceName(where.apiKeySource, "key") : "--api-key"}): acontext login --api-key …`,
        cause: err,
      });
    }
    // An id that is not even a UUID (upstream: 400 "invalid sandbox_id") is found the same way.
    if (err.status === 404 || (err.status === 400 && /^invalid \w+_id$/.test(err.message))) return new CliError(message, { hint: notFoundHint, cause: err });
    return new CliError(message, { cause: err });
  }
  return err;
}

function sourceName(source: TargetSource | "data dir", what: "url" | "key"): string {
  switch (source) {
    case "flag":
      return what === "url" ? "--base-url" : "--api-key";
    case "env":
      return what === "url" ? "ACONTEXT_BASE_URL" : "ACONTEXT_API_KEY";
    case "profile":
      return "acontext login";
    default:
      return source;
  }
}
