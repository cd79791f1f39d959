// Runs the embedded API on a port: data dir, API key, single-instance lock, listener, and a
// graceful shutdown (stop accepting, finish in-flight requests, close the database).
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, open, readFile, rm } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { buildApp } from "./app.js";
import { INFO_FILE, isRunning, type ServerInfo } from "./info.js";
import { BlobStore } from "./blobs.js";
import { openDatabase } from "./db.js";
import { Store } from "./store.js";

export interface ServerOptions {
  host: string;
  port: number;
  dataDir: string;
  /** Overrides the key stored in the data dir (for scripts and tests). */
  apiKey?: string;
  maxUploadBytes: number;
  /** Local sandboxes kept created ahead. */
  warmSandboxes: number;
  version: string;
  log: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  apiKey: string;
  apiKeyFile: string;
  close(): Promise<void>;
}

export const KEY_FILE = "api-key";
export const LOCK_FILE = "server.lock";

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const releaseLock = await lockDataDir(options.dataDir);
  let db: ReturnType<typeof openDatabase> | undefined;
  try {
    const apiKeyFile = join(options.dataDir, KEY_FILE);
    const apiKey = options.apiKey ?? (await readOrCreateKey(apiKeyFile));
    db = openDatabase(join(options.dataDir, "acontext.db"));
    const store = new Store(db);
    const blobs = new BlobStore(options.dataDir);
    await blobs.init();
    const orphans = await blobs.sweep(store.isBlobReferenced);
    if (orphans) options.log(`removed ${orphans} unreferenced blob(s) left by an earlier crash`);

    const { sandboxes, reason } = await startSandboxes(db, store.projectId, options);

    const startedAt = new Date();
    let url = "";
    const app = buildApp({
      store,
      blobs,
      apiKey,
      maxUploadBytes: options.maxUploadBytes,
      sandboxes,
      sandboxesUnavailable: reason,
      log: options.log,
      status: () => ({
        version: options.version,
        pid: process.pid,
        url,
        data_dir: options.dataDir,
        started_at: startedAt.toISOString(),
        uptime_seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
        ...store.counts(),
        sandboxes: sandboxes
          ? {
              backend: sandboxes.backend.name,
              isolation: sandboxes.backend.isolation,
              limits: sandboxes.backend.limits,
              network: sandboxes.backend.networkUnavailable ?? "off by default; network: true gives outbound access through slirp4netns, not to the host's loopback",
              warm: options.warmSandboxes,
              ...sandboxes.counts(),
            }
          : { unavailable: reason },
      }),
    });
    const server = await listen(app.fetch, options.host, options.port);
    const { port } = server.address() as AddressInfo;
    url = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;
    const info: ServerInfo = {
      pid: process.pid,
      url,
      data_dir: options.dataDir,
      started_at: startedAt.toISOString(),
      version: options.version,
      api_key: apiKey,
    };
    writeFileSync(join(options.dataDir, INFO_FILE), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });

    const openDb = db;
    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      apiKey,
      apiKeyFile,
      close: () =>
        (closing ??= (async () => {
          await closeServer(server);
          await sandboxes?.shutdown();
          openDb.close();
          rmSync(join(options.dataDir, INFO_FILE), { force: true });
          await releaseLock();
        })()),
    };
  } catch (err) {
    db?.close();
    await releaseLock();
    throw err;
  }
}

/** The local sandbox backend where this machine allows it; otherwise why not. */
async function startSandboxes(db: ReturnType<typeof openDatabase>, projectId: string, options: ServerOptions) {
  const { LocalBackend } = await import("../sandbox/local/local-backend.js");
  const support = LocalBackend.supported();
  if (!support.ok) {
    options.log(`sandboxes unavailable: ${support.reason}`);
    return { sandboxes: undefined, reason: support.reason };
  }
  const { SandboxService } = await import("./sandboxes.js");
  // Outside the data dir: sandbox set-up runs as the sandbox's unmapped uid, which must be able
  // to reach its root; a data dir under /root (0700) would not allow that.
  const stateDir = process.env.ACONTEXT_SANDBOX_DIR || (process.getuid?.() === 0 ? "/var/lib/acontext/sandboxes" : join(homedir(), ".acontext", "sandboxes"));
  const sandboxes = new SandboxService(db, new LocalBackend(stateDir, projectId, { warm: options.warmSandboxes }), projectId, options.log);
  await sandboxes.init();
  return { sandboxes, reason: undefined };
}

function listen(fetch: Parameters<typeof serve>[0]["fetch"], hostname: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port }) as Server;
    server.once("listening", () => resolve(server));
    server.once("error", reject);
  });
}

/**
 * Stops accepting, lets in-flight requests finish (up to 10 s), then closes what is left.
 * Keep-alive connections are closed as soon as they fall idle, not after their idle timeout.
 */
async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const idle = setInterval(() => server.closeIdleConnections(), 50);
  const deadline = setTimeout(() => server.closeAllConnections(), 10_000);
  await closed;
  clearInterval(idle);
  clearTimeout(deadline);
}

/** One server per data dir: a lock file holding the owner's pid; a dead owner's lock is taken over. */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx", 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number((await readFile(file, "utf8").catch(() => "")).trim());
      if (owner && owner !== process.pid && isRunning(owner)) {
        throw new DataDirBusyError(dataDir, owner);
      }
      await rm(file, { force: true }); // stale: its owner is gone
    }
  }
  throw new DataDirBusyError(dataDir, 0);
}

export class DataDirBusyError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`another acontext server${pid ? ` (pid ${pid})` : ""} is using ${dataDir}`);
    this.name = "DataDirBusyError";
  }
}

/** The key in the data dir, created (0600) on first start: `sk-ac-` and 43 random base64url chars. */
async function readOrCreateKey(file: string): Promise<string> {
  try {
    const key = (await readFile(file, "utf8")).trim();
    if (key) return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const key = `sk-ac-${randomBytes(32).toString("base64url")}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: "wx" });
  return key;
}

