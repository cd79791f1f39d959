// What a running server leaves in its data dir (server.json), and whether that server is alive.
// Small on purpose: every command that talks to the local server reads it at start-up.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** What a running server writes into its data dir, for `server status|stop` and the CLI. */
export interface ServerInfo {
  pid: number;
  url: string;
  data_dir: string;
  started_at: string;
  version: string;
  /** The key in force (the data dir's, or the one given with --api-key); the file is 0600. */
  api_key: string;
}

export const INFO_FILE = "server.json";

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The server info of a data dir whose server is alive, else undefined. A file left by a killed
 * server may name a pid that now belongs to another program: where /proc tells, the process must
 * be an acontext server, so `server stop` never signals a stranger.
 */
export function readServerInfo(dataDir: string): ServerInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(join(dataDir, INFO_FILE), "utf8")) as ServerInfo;
    return isRunning(info.pid) && looksLikeServer(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

function looksLikeServer(pid: number): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch (err) {
    // No procfs (macOS): trust the pid. A vanished process is not a server.
    return (err as NodeJS.ErrnoException).code !== "ENOENT" || !existsSync("/proc/self");
  }
  const at = argv.indexOf("server");
  return at >= 0 && argv[at + 1] === "start";
}
