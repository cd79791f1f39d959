import { homedir } from "node:os";
import { join } from "node:path";

/** Where the embedded server keeps its data unless --data-dir or ACONTEXT_DATA_DIR say otherwise. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.ACONTEXT_DATA_DIR || join(homedir(), ".acontext", "server");
}

/** The embedded server's port, as upstream's self-hosted API. */
export const DEFAULT_SERVER_PORT = 8029;
