// What `acontext server start|stop|status` do: run in the foreground, detach, stop, report.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { isRunning, readServerInfo, type ServerInfo } from "../server/info.js";
import { DataDirBusyError, KEY_FILE, LOCK_FILE, type ServerOptions, startServer } from "../server/server.js";
import { ExpectedError } from "../shared/errors.js";
import { sleep } from "../shared/processes.js";
import { say } from "./output.js";

export interface StartResult {
  url: string;
  pid: number;
  data_dir: string;
  api_key_file: string;
}

/** Runs the server until SIGINT/SIGTERM, then shuts it down gracefully. */
export async function runForeground(options: ServerOptions, onListening: (result: StartResult) => void): Promise<void> {
  const server = await startOrExplain(options);
  onListening({ url: server.url, pid: process.pid, data_dir: options.dataDir, api_key_file: server.apiKeyFile });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  say(`${signal}: finishing requests in flight, then stopping`);
  await server.close();
}

async function startOrExplain(options: ServerOptions) {
  try {
    return await startServer(options);
  } catch (err) {
    if (err instanceof DataDirBusyError) {
      const info = readServerInfo(options.dataDir);
      throw new ExpectedError(`${err.message}${info ? ` at ${info.url}` : ""}`, {
        hint: "use that server, stop it with `acontext server stop`, or choose another --data-dir",
      });
    }
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new ExpectedError(`port ${options.port} on ${options.host} is already in use`, { hint: "choose another with --port (or ACONTEXT_SERVER_PORT)" });
    }
    if ((err as NodeJS.ErrnoException).code === "EACCES" || (err as NodeJS.ErrnoException).code === "EADDRNOTAVAIL") {
      throw new ExpectedError(`cannot listen on ${options.host}:${options.port}: ${(err as Error).message}`, { hint: "check --host and --port" });
    }
    throw err;
  }
}

/**
 * Starts `acontext server start` (these same options, without --detach) in the background with
 * its log in the data dir, and waits until it answers.
 */
export async function startDetached(argv: string[], dataDir: string, apiKey: string | undefined): Promise<StartResult> {
  const running = readServerInfo(dataDir);
  if (running) {
    throw new ExpectedError(`an acontext server (pid ${running.pid}) is already running at ${running.url}`, {
      hint: "stop it with `acontext server stop`, or choose another --data-dir",
    });
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const logFile = join(dataDir, "server.log");
  const log = openSync(logFile, "a", 0o600);
  const env = apiKey ? { ...process.env, ACONTEXT_SERVER_API_KEY: apiKey } : process.env;
  const child = spawn(process.execPath, [...process.execArgv, ...argv], { detached: true, stdio: ["ignore", log, log], env });
  closeSync(log);
  child.unref();
  let exited: number | null = null;
  child.once("exit", (code) => (exited = code ?? 1));
  for (;;) {
    // Any live server of this data dir will do: another command may have started one just now.
    const info = readServerInfo(dataDir);
    if (info && (await answers(info.url))) {
      return { url: info.url, pid: info.pid, data_dir: dataDir, api_key_file: join(dataDir, KEY_FILE) };
    }
    // Lost a race with another command starting the same server: wait for that one instead.
    if (exited !== null && !lockedByLiveServer(dataDir)) {
      const tail = (await readFile(logFile, "utf8").catch(() => "")).trim().split("\n").slice(-5).join("\n  ");
      throw new ExpectedError(`the server exited with code ${exited} while starting:\n  ${tail}`, { hint: `the whole log is ${logFile}` });
    }
    await sleep(50);
  }
}

/** Stops the server of a data dir: SIGTERM (graceful), SIGKILL after 15 s. False if none ran. */
export async function stopServer(dataDir: string): Promise<ServerInfo | undefined> {
  const info = readServerInfo(dataDir);
  if (!info) return undefined;
  process.kill(info.pid, "SIGTERM");
  const deadline = Date.now() + 15_000;
  while (isRunning(info.pid)) {
    if (Date.now() > deadline) process.kill(info.pid, "SIGKILL");
    await sleep(50);
  }
  return info;
}

/** How many sandboxes the server of a data dir runs (warm ones not counted); 0 when none runs or it does not say. */
export async function runningSandboxes(dataDir: string): Promise<number> {
  if (!readServerInfo(dataDir)) return 0;
  const status = await serverStatus(dataDir).catch(() => undefined);
  return Number((status?.sandboxes as { running?: number } | undefined)?.running ?? 0);
}

/** The status a running server reports about itself. */
export async function serverStatus(dataDir: string): Promise<Record<string, unknown>> {
  const info = readServerInfo(dataDir);
  if (!info) {
    throw new ExpectedError(`no acontext server is running for ${dataDir}`, { hint: "start one: acontext server start --detach" });
  }
  const response = await fetch(`${info.url}/api/v1/server/status`, { headers: { authorization: `Bearer ${info.api_key}` } }).catch((err: Error) => {
    throw new ExpectedError(`the server (pid ${info.pid}) does not answer at ${info.url}: ${err.message}`, {
      hint: "stop it with `acontext server stop` and start it again",
    });
  });
  const body = (await response.json().catch(() => ({}))) as { data?: Record<string, unknown>; msg?: string };
  if (!response.ok || !body.data) {
    throw new ExpectedError(`the server at ${info.url} answered ${response.status} ${body.msg ?? ""}`.trim(), {
      hint: "stop it with `acontext server stop` and start it again",
    });
  }
  return body.data;
}

function lockedByLiveServer(dataDir: string): boolean {
  try {
    const owner = Number(readFileSync(join(dataDir, LOCK_FILE), "utf8").trim());
    return Boolean(owner) && isRunning(owner);
  } catch {
    return false;
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/health`)).ok;
  } catch {
    return false;
  }
}
