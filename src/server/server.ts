// Runs the embedded API on a port: data dir, API key, single-instance lock, listener, and a
// graceful shutdown (stop accepting, finish in-flight requests, close the database).
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, open, readFile, rm } from "node:fs/promises";
import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { buildApp } from "./app.js";
import { type BackendName, extensionsOf, openBackend } from "./backends.js";
import { BlobStore } from "./blobs.js";
import { openDatabase } from "./db.js";
import { GREP_TIMEOUT_MS } from "./grep.js";
import { INFO_FILE, isRunning, type ServerInfo } from "./info.js";
import { DEFAULT_MAX_BUFFERED_EXECS } from "./routes/sandboxes.js";
import type { SandboxPolicy } from "./sandboxes.js";
import { Store } from "./store.js";

export interface ServerOptions {
  host: string;
  port: number;
  dataDir: string;
  /** Overrides the key stored in the data dir (for scripts and tests). */
  apiKey?: string;
  maxUploadBytes: number;
  maxBodyBytes: number;
  /** Bytes one disk may hold. */
  diskQuotaBytes: number;
  /** Transfer deadline and listing cap for sandboxes (DEFAULT_POLICY where not given). */
  sandboxPolicy?: Partial<SandboxPolicy>;
  /** Buffered (JSON) execs at once, server-wide (default 32); more is a 429. */
  maxBufferedExecs?: number;
  /** Connections at once (default: 1000, or a quarter of the descriptors this process may open); more are closed as they come. */
  maxConnections?: number;
  /** A new connection must have sent its first request's headers within this (default 10 s), or it is closed. */
  firstRequestTimeoutMs?: number;
  /** Which sandbox backend runs the sandboxes. */
  backend: BackendName;
  /** The container image, for the docker backend. */
  image?: string;
  /** Sandboxes kept created ahead. */
  warmSandboxes: number;
  version: string;
  log: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  apiKey: string;
  apiKeyFile: string;
  /** The Node server (its settings, for tests). */
  http: Server;
  close(): Promise<void>;
}

export const KEY_FILE = "api-key";
const DEFAULT_MAX_CONNECTIONS = 1000;
const FIRST_REQUEST_TIMEOUT_MS = 10_000;
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
      maxBodyBytes: options.maxBodyBytes,
      diskQuotaBytes: options.diskQuotaBytes,
      maxBufferedExecs: options.maxBufferedExecs,
      sandboxes,
      sandboxesUnavailable: reason,
      extensions: extensionsOf(sandboxes?.backend),
      log: options.log,
      status: () => ({
        version: options.version,
        pid: process.pid,
        url,
        data_dir: options.dataDir,
        started_at: startedAt.toISOString(),
        uptime_seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
        ...store.counts(),
        limits: {
          max_upload_bytes: options.maxUploadBytes,
          max_body_bytes: options.maxBodyBytes,
          disk_quota_bytes: options.diskQuotaBytes,
          grep_timeout_seconds: GREP_TIMEOUT_MS / 1000,
          max_buffered_execs: options.maxBufferedExecs ?? DEFAULT_MAX_BUFFERED_EXECS,
          max_connections: server.maxConnections,
          ...(sandboxes && { transfer_timeout_seconds: sandboxes.policy.transferTimeoutMs / 1000, max_listed_files: sandboxes.policy.maxListedFiles }),
        },
        sandboxes: sandboxes
          ? {
              backend: sandboxes.backend.name,
              isolation: sandboxes.backend.isolation,
              limits: sandboxes.backend.limits,
              network: sandboxes.backend.networkUnavailable ?? sandboxes.backend.networkDescription,
              warm: options.warmSandboxes,
              ...sandboxes.counts(),
              max: sandboxes.policy.maxSandboxes,
            }
          : { unavailable: reason },
      }),
    });
    const server = await listen(app.fetch, options.host, options.port, {
      maxConnections: options.maxConnections ?? defaultMaxConnections(),
      firstRequestTimeoutMs: options.firstRequestTimeoutMs ?? FIRST_REQUEST_TIMEOUT_MS,
    });
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
      http: server,
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

/** The sandbox service over the configured backend, where this machine allows it; otherwise why not. */
async function startSandboxes(db: ReturnType<typeof openDatabase>, projectId: string, options: ServerOptions) {
  const opened = await openBackend(options.backend, { namespace: projectId, warm: options.warmSandboxes, image: options.image, log: options.log });
  if ("unavailable" in opened) {
    options.log(`sandboxes unavailable: ${opened.unavailable}`);
    return { sandboxes: undefined, reason: opened.unavailable };
  }
  const { DEFAULT_POLICY, SandboxService } = await import("./sandboxes.js");
  const sandboxes = new SandboxService(db, opened.backend, projectId, options.log, { ...DEFAULT_POLICY, ...options.sandboxPolicy });
  await sandboxes.init();
  return { sandboxes, reason: undefined };
}

/**
 * Node's server with our timeouts and bounds: no `requestTimeout` (Node's 300 s would cut a
 * terminal session or an exec whose stdin streams as its body; the routes have deadlines of their
 * own: exec timeouts up to an hour, transfer deadlines), Node's 60 s for a request's headers, at
 * most `maxConnections` connections (each holds a descriptor; past it Node closes new ones as they
 * are accepted), and a connection that sends nothing is closed after `firstRequestTimeoutMs` of
 * silence (Node's header deadline starts at the first byte, so without this idle connections
 * would stay for ever). Once a request's headers are in, its connection has no idle timeout
 * (a quiet command may run for an hour); between requests, Node's keep-alive timeout (5 s).
 */
function listen(
  fetch: Parameters<typeof serve>[0]["fetch"],
  hostname: string,
  port: number,
  limits: { maxConnections: number; firstRequestTimeoutMs: number },
): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port, serverOptions: { requestTimeout: 0, headersTimeout: 60_000 } }) as Server;
    server.maxConnections = limits.maxConnections;
    // With no 'timeout' listener on the server, Node destroys a socket that times out outside a request.
    server.on("connection", (socket: Socket) => socket.setTimeout(limits.firstRequestTimeoutMs));
    server.on("request", (req: IncomingMessage) => req.socket.setTimeout(0));
    server.once("listening", () => resolve(server));
    server.once("error", reject);
  });
}

/** Connections at once by default: 1000, or a quarter of the descriptors this process may open (the rest for sandboxes, uploads, the database). */
function defaultMaxConnections(): number {
  let descriptors = Infinity;
  try {
    descriptors = Number(/^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1] ?? Infinity);
  } catch {
    // not Linux: the fixed default
  }
  return Math.max(16, Math.min(DEFAULT_MAX_CONNECTIONS, Math.floor(descriptors / 4)));
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
