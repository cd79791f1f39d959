// Connecting a command to its API: resolve the target (flag > env > profile > embedded server),
// start the embedded server on demand, and translate API failures into errors with hints.
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { AcontextClient, APIError, ConnectionError } from "../client/client.js";
import { EXTENSIONS } from "../protocol/extensions.js";
import { ExpectedError } from "../shared/errors.js";
import { DEFAULT_SERVER_PORT, defaultDataDir } from "./defaults.js";
import { say, style } from "./output.js";
import { readProfile } from "./profile.js";
import { describeApi, keyOnlyNote, resolveTarget, sourceName, type TargetSource, urlOrigin } from "./target.js";

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
  const target = resolveTarget({ flags, env, profile: await readProfile() });
  if (target.kind === "remote") {
    // A key alone means the hosted cloud: said every time, so it is never a surprise.
    if (target.baseUrlSource === "default") say(style("dim", keyOnlyNote(target.apiKeySource)));
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
    const { startDetached } = await import("./server-control.js");
    const port = env.ACONTEXT_SERVER_PORT || String(DEFAULT_SERVER_PORT);
    if (await somethingListens(Number(port))) {
      // Something else has the port: said here, with the setting this command takes (it has no --port).
      throw new ExpectedError(`cannot start the local server: port ${port} on 127.0.0.1 is in use by another program`, {
        hint: `choose a free port with ACONTEXT_SERVER_PORT (e.g. ACONTEXT_SERVER_PORT=${Number(port) + 1}), or point commands at a running API with ACONTEXT_BASE_URL`,
      });
    }
    const started = await startDetached([process.argv[1]!, "server", "start", "--data-dir", dataDir, "--port", port], dataDir, undefined);
    say(style("dim", `started local server at ${started.url} (acontext server stop to stop it)`));
    info = readServerInfo(dataDir);
    if (!info) throw new ExpectedError(`the local server at ${started.url} stopped right after it started`, { hint: `see ${join(dataDir, "server.log")}` });
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
    // Which API, and where that choice came from, in the message itself.
    const source = where?.baseUrlSource ?? "flag";
    const api =
      source === "local"
        ? `the local server at ${err.url}`
        : `${describeApi(err.url)} (${urlOrigin(where ?? { baseUrlSource: source, apiKeySource: "flag" })})`;
    return new ExpectedError(`cannot reach ${api}: ${err.reason}`, {
      hint:
        source === "local"
          ? `the local server stopped; see \`acontext server status\` and its log, ${join(where?.dataDir ?? defaultDataDir(), "server.log")}`
          : source === "default"
            ? "for the local server unset ACONTEXT_API_KEY; for another API set ACONTEXT_BASE_URL or --base-url; `acontext whoami` shows the target"
            : `check the base URL and your network; \`acontext whoami\` shows the target`,
      cause: err,
    });
  }
  if (err instanceof APIError) {
    const message = `${err.message} (HTTP ${err.status})${err.detail ? `: ${err.detail}` : ""}`;
    if (err.status === 401 || err.status === 403) {
      return new ExpectedError(message, {
        hint:
          where?.baseUrlSource === "local"
            ? "the local server does not accept its data dir's key; restart it: acontext server stop"
            : `check the API key (from ${where ? sourceName(where.apiKeySource, "key") : "--api-key"}): acontext login --api-key …`,
        cause: err,
      });
    }
    // An id that is not even a UUID (upstream: 400 "invalid sandbox_id") is found the same way.
    if (err.status === 404 || (err.status === 400 && (/^invalid \w+_id$/.test(err.message) || err.detail?.startsWith("not a UUID"))))
      return new ExpectedError(message, { hint: notFoundHint, cause: err });
    return new ExpectedError(message, { cause: err });
  }
  return err;
}

/** Whether something accepts connections on 127.0.0.1:`port` (here, not through shared/processes: it would load node:readline for every command). */
function somethingListens(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ port, host: "127.0.0.1" });
    const finish = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
  });
}
