// Two ways to reach the embedded server in tests: the Hono app in-process (app.request), and the
// real CLI `acontext server start` as a child process on a random port with a temp data dir.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach } from "vitest";
import { EXTENSIONS } from "../../src/protocol/extensions.js";
import { buildApp } from "../../src/server/app.js";
import { BlobStore } from "../../src/server/blobs.js";
import { openDatabase } from "../../src/server/db.js";
import { Store } from "../../src/server/store.js";
import { CLI, lineWatcher } from "./cli.js";

export const TEST_KEY = "sk-ac-test-key";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export async function tempDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "acontext-server-test-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The app on a fresh data dir, called in-process. */
export async function inProcessApp(options: { maxUploadBytes?: number; maxBodyBytes?: number; diskQuotaBytes?: number } = {}) {
  const dataDir = await tempDataDir();
  const db = openDatabase(join(dataDir, "acontext.db"));
  cleanups.push(async () => db.close());
  const store = new Store(db);
  const blobs = new BlobStore(dataDir);
  await blobs.init();
  const logs: string[] = [];
  const app = buildApp({
    store,
    blobs,
    apiKey: TEST_KEY,
    maxUploadBytes: options.maxUploadBytes ?? 1024 * 1024,
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    diskQuotaBytes: options.diskQuotaBytes ?? 1024 ** 3,
    extensions: EXTENSIONS,
    log: (line) => logs.push(line),
    status: () => ({ ok: true }),
  });
  const request = (path: string, init: RequestInit & { key?: string | null } = {}) => {
    const headers = new Headers(init.headers);
    if (init.key !== null) headers.set("authorization", `Bearer ${init.key ?? TEST_KEY}`);
    return app.request(path, { ...init, headers });
  };
  return { app, request, dataDir, store, blobs, logs };
}

export interface ServerProcess {
  url: string;
  dataDir: string;
  pid: number;
  /** fetch relative to /api/v1 with the key. */
  api: (path: string, init?: RequestInit) => Promise<Response>;
  stderr: ReturnType<typeof lineWatcher>;
  kill: (signal: NodeJS.Signals) => Promise<{ exitCode?: number; signal?: string }>;
}

/** `acontext server start --port 0` as a child process (as another user with `user`); killed after the test. */
export async function startServerProcess(
  options: {
    dataDir?: string;
    args?: string[];
    user?: { uid: number; gid: number };
    env?: Record<string, string>;
    /** Open descriptors the server inherits as fd 3, 4, … (as a shell's would). */
    inherit?: number[];
  } = {},
): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? (await tempDataDir());
  const child = execa(process.execPath, [CLI, "server", "start", "--port", "0", "--data-dir", dataDir, "--api-key", TEST_KEY, ...(options.args ?? [])], {
    ...options.user,
    // A given environment is the whole environment (a server run as another user gets none of ours).
    ...(options.env ? { env: options.env, extendEnv: false } : {}),
    reject: false,
    buffer: false,
    stdio: ["ignore", "pipe", "pipe", ...((options.inherit ?? []) as unknown as "ignore"[])],
    // The tests decide when to escalate: no automatic SIGKILL after a SIGTERM.
    forceKillAfterDelay: false,
  });
  const stdout = lineWatcher(child.stdout!);
  const stderr = lineWatcher(child.stderr!);
  let done = false;
  const finished = child.then((r) => {
    done = true;
    return r;
  });
  cleanups.push(async () => {
    // SIGTERM: a graceful stop also kills the server's sandboxes and removes their cgroups.
    if (!done) child.kill("SIGTERM");
    await finished;
  });
  const url = await stdout.waitFor(/^http:\/\//).catch(async (err) => {
    await stderr.done;
    throw new Error(`${err.message}\n${stderr.text()}`);
  });
  return {
    url,
    dataDir,
    pid: child.pid!,
    stderr,
    api: (path, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${TEST_KEY}`);
      return fetch(`${url}/api/v1${path}`, { ...init, headers });
    },
    kill: async (signal) => {
      child.kill(signal);
      const result = await finished;
      return { exitCode: result.exitCode, signal: result.signal };
    },
  };
}

/** A multipart body with a `file` part and optional fields. */
export function uploadForm(filename: string, content: string | Uint8Array, fields: Record<string, string> = {}): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", new Blob([content]), filename);
  return form;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON the tests inspect freely
export type Envelope<T = any> = { code: number; msg: string; error?: string; data: T };

/** A JSON request to a server process's /api/v1, answered with its status and envelope. */
// biome-ignore lint/suspicious/noExplicitAny: see Envelope
export async function call<T = any>(server: ServerProcess, method: string, path: string, body?: unknown): Promise<{ status: number; body: Envelope<T> }> {
  const response = await server.api(path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Envelope<T> };
}
