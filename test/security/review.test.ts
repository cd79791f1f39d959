// Findings of an independent security review, one describe each: what a client with the key, a
// hostile sandbox, or a hostile API could make the server or the CLI hold, and the bound that holds
// now. Each test failed against the code before its fix (run there first). Real server processes
// on random ports with temp data dirs; real sandboxes where the finding needs one.
import { once } from "node:events";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, request } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { availableParallelism, totalmem } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { EXTENSIONS, EXTENSIONS_HEADER } from "../../src/protocol/extensions.js";
import type { SandboxBackend } from "../../src/sandbox/backend.js";
import { LocalBackend } from "../../src/sandbox/local/local-backend.js";
import { MIGRATIONS, openDatabase } from "../../src/server/db.js";
import { SandboxService } from "../../src/server/sandboxes.js";
import { type ServerOptions, startServer } from "../../src/server/server.js";
import { sleep } from "../../src/shared/processes.js";
import { lineWatcher, runCli, spawnCli, useTempDirs } from "../helpers/cli.js";
import { LOCAL_SANDBOXES, needs, ROOT } from "../helpers/requirements.js";
import { serviceOver } from "../helpers/sandbox.js";
import { call, type Envelope, inProcessApp, type ServerProcess, startServerProcess, TEST_KEY, tempDataDir } from "../helpers/server.js";
import { upstreamProxy } from "../helpers/upstream-proxy.js";

const MiB = 1024 * 1024;
const json = { "content-type": "application/json" };

/** Resident memory of a process in bytes: now (VmRSS) or its peak so far (VmHWM). */
async function memory(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(await readFile(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Polls `check` until it holds, at most `tries` times, 50 ms apart; true if it held. */
async function until(check: () => Promise<boolean>, tries = 200): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return true;
    await sleep(50);
  }
  return false;
}

/** A request whose body the test writes by hand; `response` is its status and body text. */
function rawRequest(server: ServerProcess, method: string, path: string, headers: Record<string, string>) {
  const req = request(new URL(`${server.url}/api/v1${path}`), { method, headers: { authorization: `Bearer ${TEST_KEY}`, ...headers } });
  const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.once("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.once("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.once("error", reject);
    });
    req.on("error", reject);
  });
  response.catch(() => {});
  return { req, response };
}

async function newSandbox(server: ServerProcess): Promise<string> {
  const created = await call(server, "POST", "/sandbox");
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.data.sandbox_id;
}

const buffered = needs("A: buffered (JSON) exec answers", LOCAL_SANDBOXES);
describe.skipIf(buffered.skip)(buffered.title, () => {
  it("NUL bytes (six bytes each as JSON) within the old per-stream cap: the answer stays within a few MiB, marked, and the server's memory with it", async () => {
    const server = await startServerProcess({ args: ["--warm", "0"] });
    const id = await newSandbox(server);
    const before = await memory(server.pid, "VmRSS");
    const response = await server.api(`/sandbox/${id}/exec`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ command: "head -c 11M /dev/zero; head -c 11M /dev/zero >&2" }),
    });
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text.length, `an answer of ${(text.length / MiB).toFixed(1)} MiB`).toBeLessThan(9 * MiB);
    const { data } = JSON.parse(text) as Envelope<{ stdout: string; stderr: string; exit_code: number }>;
    expect(data.exit_code).toBe(0);
    for (const stream of ["stdout", "stderr"] as const) {
      expect(data[stream]).toMatch(new RegExp(`\\[acontext: ${stream} truncated: .*4194304 bytes.*application/x-ndjson`));
      expect(data[stream].startsWith("\0".repeat(100_000)), stream).toBe(true);
    }
    const peak = await memory(server.pid, "VmHWM");
    expect(peak - before, `peak ${peak >> 20} MiB, ${before >> 20} MiB before`).toBeLessThan(150 * MiB);
  });

  it("positive control: 3 MiB of text comes whole, unmarked", async () => {
    const server = await startServerProcess({ args: ["--warm", "0"] });
    const id = await newSandbox(server);
    const { body } = await call(server, "POST", `/sandbox/${id}/exec`, { command: "head -c 3M /dev/zero | tr '\\0' a" });
    expect(body.data.stdout).toBe("a".repeat(3 * MiB));
    expect(body.data.stderr).toBe("");
  });

  it("at most --max-buffered-execs run at once: one more is a 429 that says so; streamed execs go on; a slot frees once its answer is sent", async () => {
    const server = await startServerProcess({ args: ["--warm", "0", "--max-buffered-execs", "2"] });
    const id = await newSandbox(server);
    // Two buffered execs that run until the test ends their stdin (a raw body it keeps open).
    const held = [0, 1].map(() => {
      const exec = rawRequest(server, "POST", `/sandbox/${id}/exec`, {
        "content-type": "application/octet-stream",
        "x-acontext-exec": JSON.stringify({ command: "cat" }),
        accept: "application/json",
      });
      exec.req.write("held\n");
      return exec;
    });
    const bufferedExec = () => call(server, "POST", `/sandbox/${id}/exec`, { command: "echo hi" });
    let refused: Awaited<ReturnType<typeof bufferedExec>> | undefined;
    expect(
      await until(async () => {
        const answer = await bufferedExec();
        if (answer.status === 429) refused = answer;
        return refused !== undefined;
      }),
      "a third buffered exec is refused while two run",
    ).toBe(true);
    expect(refused!.body).toMatchObject({ code: 429, msg: "too many buffered execs running" });
    expect(refused!.body.error).toMatch(/at most 2 .*--max-buffered-execs.*application\/x-ndjson/);

    const streamed = await server.api(`/sandbox/${id}/exec`, {
      method: "POST",
      headers: { ...json, accept: "application/x-ndjson" },
      body: '{"command":"echo streamed"}',
    });
    expect(streamed.status).toBe(200);
    expect(await streamed.text()).toContain(Buffer.from("streamed\n").toString("base64"));

    held[0]!.req.end();
    expect(await held[0]!.response).toMatchObject({ status: 200, text: expect.stringContaining('"stdout":"held\\n"') });
    expect(await until(async () => (await bufferedExec()).status === 200), "a slot is free again").toBe(true);
    held[1]!.req.end();
    expect((await held[1]!.response).status).toBe(200);
  });
});

describe("B: exec history", () => {
  const t = needs("a command's history over HTTP: each command stored up to its first 4 KiB, marked", LOCAL_SANDBOXES);
  it.skipIf(t.skip)(t.title, async () => {
    const server = await startServerProcess({ args: ["--warm", "0"] });
    const id = await newSandbox(server);
    const long = `: ${"x".repeat(120 * 1024)}`;
    for (let i = 0; i < 20; i++) expect((await call(server, "POST", `/sandbox/${id}/exec`, { command: long })).body.data.exit_code).toBe(0);
    expect((await call(server, "POST", `/sandbox/${id}/exec`, { command: "echo last" })).body.data.exit_code).toBe(0);
    // The record of the last exec is written just after its answer.
    let logs = "";
    expect(
      await until(async () => {
        logs = await (await server.api("/sandbox/logs")).text();
        return logs.includes('"echo last"');
      }),
    ).toBe(true);
    expect(logs.length, `a logs answer of ${logs.length} bytes`).toBeLessThan(200_000);
    const history = (JSON.parse(logs) as Envelope).data.items[0].history_commands as Array<{ command: string; exit_code: number }>;
    expect(history).toHaveLength(21);
    for (const entry of history.slice(0, 20)) {
      expect(entry.exit_code).toBe(0);
      expect(entry.command).toBe(`${long.slice(0, 4096)}… [acontext: ${long.length} bytes; the first 4096 kept]`);
    }
    expect(history[20]).toEqual({ command: "echo last", exit_code: 0 });
  });

  const capped = needs("the latest entries per sandbox are kept (commands and generated files), in order", LOCAL_SANDBOXES);
  it.skipIf(capped.skip)(capped.title, async () => {
    const stateDir = await tempDataDir();
    const backend = new LocalBackend(stateDir, "history");
    const sandboxes = serviceOver(backend, { maxHistoryEntries: 5 });
    try {
      const id = await sandboxes.create({ memoryBytes: 256 * MiB, pids: 64, cpus: 1, diskBytes: 64 * MiB });
      for (let i = 1; i <= 8; i++) {
        expect((await sandboxes.run(id, `echo ${i}`)).exitCode).toBe(0);
        await new Promise((resolve) => setImmediate(resolve)); // its record
        sandboxes.service.recordGeneratedFile(id, `/workspace/f${i}`);
      }
      const [entry] = sandboxes.service.list({ limit: 20, timeDesc: false }).items;
      expect(entry!.history_commands).toEqual([4, 5, 6, 7, 8].map((i) => ({ command: `echo ${i}`, exit_code: 0 })));
      expect(entry!.generated_files).toEqual([4, 5, 6, 7, 8].map((i) => ({ sandbox_path: `/workspace/f${i}` })));
    } finally {
      await backend.killAll();
      await sandboxes.close();
    }
  });

  it("a page of /sandbox/logs stops short of its limit when its histories pass 8 MiB; the cursor goes on from there", async () => {
    const dir = await tempDataDir();
    const db = openDatabase(join(dir, "acontext.db"));
    try {
      const service = new SandboxService(db, {} as SandboxBackend, "test", () => {});
      const command = "y".repeat(4000);
      const insertSandbox = db.prepare(
        "INSERT INTO sandboxes (id, backend, status, keepalive_seconds, expires_ms, created_us, created_at, updated_at) VALUES (?, 'local', 'killed', 600, 0, ?, ?, ?)",
      );
      const insertCommand = db.prepare("INSERT INTO sandbox_commands (sandbox_id, command, exit_code) VALUES (?, ?, 0)");
      db.transaction(() => {
        for (let i = 0; i < 6; i++) {
          const id = `00000000-0000-4000-8000-00000000000${i}`;
          const at = new Date(1_700_000_000_000 + i).toISOString();
          insertSandbox.run(id, (1_700_000_000_000 + i) * 1000, at, at);
          for (let n = 0; n < 1000; n++) insertCommand.run(id, command);
        }
      })();
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = service.list({ limit: 200, cursor, timeDesc: false });
        expect(JSON.stringify(page).length).toBeLessThan(9 * MiB);
        for (const item of page.items) {
          expect(item.history_commands).toHaveLength(1000);
          seen.push(item.id);
        }
        cursor = page.next_cursor;
        pages++;
      } while (cursor);
      expect(seen).toEqual(Array.from({ length: 6 }, (_, i) => `00000000-0000-4000-8000-00000000000${i}`));
      expect(pages).toBe(3);
    } finally {
      db.close();
    }
  });

  it("a database of the earlier schema keeps its histories: moved into rows, long commands cut", async () => {
    const dir = await tempDataDir();
    const file = join(dir, "acontext.db");
    const old = new Database(file);
    for (const migration of MIGRATIONS.slice(0, 2)) old.exec(migration);
    old.pragma("user_version = 2");
    const history = [
      { command: "echo one", exit_code: 0 },
      { command: `: ${"z".repeat(10_000)}`, exit_code: 3 },
    ];
    old
      .prepare(
        `INSERT INTO sandboxes (id, backend, status, keepalive_seconds, expires_ms, history_commands, generated_files, created_us, created_at, updated_at)
         VALUES ('00000000-0000-4000-8000-000000000001', 'local', 'killed', 600, 0, ?, ?, 1, '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z')`,
      )
      .run(JSON.stringify(history), JSON.stringify([{ sandbox_path: "/workspace/out.txt" }]));
    old.close();
    const db = openDatabase(file);
    try {
      const [entry] = new SandboxService(db, {} as SandboxBackend, "test", () => {}).list({ limit: 20, timeDesc: false }).items;
      expect(entry!.history_commands).toEqual([
        { command: "echo one", exit_code: 0 },
        { command: `: ${"z".repeat(4094)}… [acontext: 10002 bytes; the first 4096 kept]`, exit_code: 3 },
      ]);
      expect(entry!.generated_files).toEqual([{ sandbox_path: "/workspace/out.txt" }]);
    } finally {
      db.close();
    }
  });
});

describe("C: an upload's form fields (--max-body)", () => {
  /** A multipart body: `fields` text fields, then a small file part. */
  const form = (fields: Array<[string, string]>) => {
    const body = new FormData();
    for (const [name, value] of fields) body.append(name, value);
    body.append("file", new Blob(["content"]), "a.txt");
    return body;
  };

  it("in-process: fields each under 1 MiB but together over the body limit are a 413; within it, the upload is stored", async () => {
    const server = await inProcessApp({ maxBodyBytes: 64 * 1024 });
    const diskId = ((await (await server.request("/api/v1/disk", { method: "POST" })).json()) as Envelope).data.id;
    const over = await server.request(`/api/v1/disk/${diskId}/artifact`, {
      method: "POST",
      body: form([
        ["file_path", "/"],
        ["meta", JSON.stringify({ a: "x".repeat(30_000) })],
        ["b", "y".repeat(30_000)],
        ["c", "z".repeat(30_000)],
      ]),
    });
    expect(over.status).toBe(413);
    expect(await over.json()).toEqual({
      code: 413,
      msg: "request body too large",
      error: "an upload's form fields together are limited to 65536 bytes (the file part is not counted)",
    });
    const within = await server.request(`/api/v1/disk/${diskId}/artifact`, {
      method: "POST",
      body: form([
        ["file_path", "/"],
        ["meta", JSON.stringify({ a: "x".repeat(30_000) })],
      ]),
    });
    expect(within.status).toBe(201);
  });

  it("uploads held open, each sending 20 fields of 1 MiB: 413s, and the server's memory does not grow with them", async () => {
    const server = await startServerProcess({ args: ["--warm", "0", "--max-body", "256KiB"] });
    const diskId = (await call(server, "POST", "/disk")).body.data.id;
    const before = await memory(server.pid, "VmRSS");
    const boundary = "acontext-review-boundary";
    // Just under busboy's own 1 MiB per field, which was all that held before; written 64 KiB at a
    // time, stopping once answered (a server that answers early closes the connection soon after).
    const piece = "f".repeat(64 * 1024);
    const uploads = Array.from({ length: 10 }, () =>
      rawRequest(server, "POST", `/disk/${diskId}/artifact`, { "content-type": `multipart/form-data; boundary=${boundary}` }),
    );
    await Promise.all(
      uploads.map(async ({ req, response }) => {
        let answered = false;
        const settled = () => {
          answered = true;
        };
        response.then(settled, settled);
        const send = async (text: string) => {
          if (!answered && !req.destroyed && !req.write(text))
            await Promise.race([new Promise((resolve) => req.once("drain", resolve)), response.catch(() => {})]);
        };
        for (let i = 0; i < 20 && !answered; i++) {
          await send(`--${boundary}\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\n`);
          for (let sent = 0; sent < MiB - 2 * piece.length && !answered; sent += piece.length) await send(piece);
          await send("\r\n");
        }
        if (!answered && !req.destroyed) {
          req.end(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\ncontent\r\n--${boundary}--\r\n`);
        }
      }),
    );
    for (const { response } of uploads) expect(JSON.parse((await response).text)).toMatchObject({ code: 413, msg: "request body too large" });
    for (const { req } of uploads) req.destroy();
    const peak = await memory(server.pid, "VmHWM");
    expect(peak - before, `peak ${peak >> 20} MiB, ${before >> 20} MiB before`).toBeLessThan(100 * MiB);
  });
});

/**
 * Watches a CLI child until it exits, or has read `readLimit` bytes (then it is killed): its peak
 * resident memory (VmHWM, read every 50 ms, so up to the last reading before it exited) and the
 * bytes it read (rchar: its sockets among them).
 */
async function watchCli(child: ReturnType<typeof spawnCli>, readLimit: number): Promise<{ peak: number; read: number; killed: boolean }> {
  let exited = false;
  child.then(() => (exited = true));
  let peak = 0;
  let read = 0;
  let killed = false;
  for (let i = 0; i < 1200 && !exited; i++) {
    try {
      peak = Math.max(peak, await memory(child.pid!, "VmHWM"));
      read = Number(/^rchar: (\d+)$/m.exec(await readFile(`/proc/${child.pid}/io`, "utf8"))?.[1] ?? 0);
    } catch {
      break; // gone
    }
    if (read > readLimit) {
      killed = true;
      child.kill("SIGKILL");
      break;
    }
    await sleep(50);
  }
  await child;
  return { peak, read, killed };
}

describe("D: the CLI against hostile output", () => {
  const tempDir = useTempDirs();

  it("an API streaming one endless exec line: the CLI stops with a clear error, its memory bounded", async () => {
    let sent = 0;
    const fake = createServer((req, res) => {
      const headers = { [EXTENSIONS_HEADER]: EXTENSIONS.join(","), "content-type": "application/json" };
      if (!req.url?.endsWith("/exec")) return void res.writeHead(200, headers).end('{"code":0,"msg":"","data":{}}');
      req.resume();
      res.writeHead(200, { ...headers, "content-type": "application/x-ndjson" });
      res.write('{"type":"stdout","data":"');
      const chunk = Buffer.alloc(MiB, "A");
      const pump = () => {
        while (sent < 1024 * MiB && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end('"}\n');
      };
      pump();
    });
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
    try {
      const work = await tempDir();
      const child = spawnCli(["sandbox", "exec", "00000000-0000-4000-8000-000000000000", "--", "true"], {
        cwd: work,
        env: { HOME: work, ACONTEXT_BASE_URL: `http://127.0.0.1:${(fake.address() as AddressInfo).port}`, ACONTEXT_API_KEY: TEST_KEY },
      });
      const stderr = lineWatcher(child.stderr!);
      const watched = await watchCli(child, 600 * MiB);
      const { exitCode } = await child;
      expect(watched.killed, `the CLI read ${watched.read >> 20} MiB and was still going (peak ${watched.peak >> 20} MiB)`).toBe(false);
      expect(exitCode, stderr.text()).toBe(125);
      expect(stderr.text()).toMatch(/^error: .*an exec output line longer than 16 MiB/m);
      expect(stderr.text()).not.toContain("looks like a bug");
      expect(watched.peak, `peak ${watched.peak >> 20} MiB`).toBeLessThan(200 * MiB);
    } finally {
      fake.closeAllConnections();
      await new Promise((resolve) => fake.close(resolve));
    }
  });

  /** An API as our server was before the sandbox-files extension: exec streams, but it lists nothing itself. */
  async function olderApi(target: string): Promise<string> {
    const proxy = createServer((req, res) => {
      const upstream = request(new URL(req.url ?? "/", target), { method: req.method, headers: req.headers }, (answer) => {
        const listed = answer.headers[EXTENSIONS_HEADER];
        if (typeof listed === "string") answer.headers[EXTENSIONS_HEADER] = listed.replace(/(^|,)sandbox-files(?=,|$)/, "");
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on("error", () => res.destroy());
      res.on("close", () => {
        if (!res.writableFinished) upstream.destroy();
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    proxies.push(() => new Promise((resolve) => proxy.close(() => resolve())));
    return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  }
  const proxies: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of proxies.splice(0)) await close();
  });

  /** A server with a sandbox whose `find` (first on PATH) is `script`; the CLI against it and against `api(url)`. */
  async function plantedFind(script: string) {
    const server = await startServerProcess({ args: ["--warm", "0"] });
    const work = await tempDir();
    const env = (url: string) => ({ HOME: work, ACONTEXT_BASE_URL: url, ACONTEXT_API_KEY: TEST_KEY });
    const created = await runCli(["sandbox", "create"], { cwd: work, env: env(server.url) });
    expect(created.exitCode, created.stderr).toBe(0);
    const sandbox = created.stdout.trim();
    const plant = await runCli(
      [
        "sandbox",
        "exec",
        sandbox,
        "--",
        "sh",
        "-c",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
        'mkdir -p /workspace/dir && for f in /usr/bin/find /usr/local/bin/find; do mkdir -p "${f%/*}" && printf "#!/bin/sh\\n%s\\n" "$1" > "$f" && chmod 755 "$f"; done',
        "sh",
        script,
      ],
      { cwd: work, env: env(server.url) },
    );
    expect(plant.exitCode, plant.stderr).toBe(0);
    return { server, work, sandbox, env };
  }

  const streamed = needs("a sandbox whose find lists %s, through an API whose exec streams: refused as it streams, the CLI's memory bounded", {
    ok: LOCAL_SANDBOXES.ok && ROOT.ok,
    reason: LOCAL_SANDBOXES.ok ? "as an ordinary user a sandbox's /usr is read-only, so it cannot replace its find" : LOCAL_SANDBOXES.reason,
  });
  it.skipIf(streamed.skip).each([
    ["endless entries", "seq -f ./f%.0f 1 1e15 | tr '\\n' '\\0'", /more than 100000 entries/],
    ["one endless entry", "tr '\\0' a < /dev/zero", /an entry is longer than 4096 bytes/],
  ])(streamed.title, async (_name, script, refusal) => {
    const { server, work, sandbox, env } = await plantedFind(script);
    const child = spawnCli(["disk", "cp", "-r", `sandbox://${sandbox}/workspace/dir`, "dest"], { cwd: work, env: env(await olderApi(server.url)) });
    const stderr = lineWatcher(child.stderr!);
    const watched = await watchCli(child, 400 * MiB);
    const { exitCode } = await child;
    expect(watched.killed, `the CLI read ${watched.read >> 20} MiB and was still going (peak ${watched.peak >> 20} MiB)`).toBe(false);
    expect(exitCode, stderr.text()).toBe(1);
    expect(stderr.text()).toMatch(refusal);
    expect(watched.peak, `peak ${watched.peak >> 20} MiB`).toBeLessThan(250 * MiB);
    expect(existsSync(join(work, "dest"))).toBe(false);
  });

  const upstream = needs("a sandbox whose find lists too many entries, through an upstream-shaped API (buffered exec): refused, nothing written", {
    ok: LOCAL_SANDBOXES.ok && ROOT.ok,
    reason: LOCAL_SANDBOXES.ok ? "as an ordinary user a sandbox's /usr is read-only, so it cannot replace its find" : LOCAL_SANDBOXES.reason,
  });
  it.skipIf(upstream.skip)(upstream.title, async () => {
    const { server, work, sandbox, env } = await plantedFind("seq -f ./f%.0f 1 150000 | tr '\\n' '\\0'");
    const child = spawnCli(["disk", "cp", "-r", `sandbox://${sandbox}/workspace/dir`, "dest"], { cwd: work, env: env((await upstreamProxy(server.url)).url) });
    const stderr = lineWatcher(child.stderr!);
    const watched = await watchCli(child, 400 * MiB);
    const { exitCode } = await child;
    expect(exitCode, stderr.text()).toBe(1);
    expect(stderr.text()).toMatch(/more than 100000 entries/);
    expect(watched.peak, `peak ${watched.peak >> 20} MiB`).toBeLessThan(250 * MiB);
    expect(existsSync(join(work, "dest"))).toBe(false);
  });
});

/** The server in this process (startServer), for what only its Node server object shows. */
async function inProcessServer(options: Partial<ServerOptions> = {}) {
  const running = await startServer({
    host: "127.0.0.1",
    port: 0,
    dataDir: await tempDataDir(),
    apiKey: TEST_KEY,
    maxUploadBytes: MiB,
    maxBodyBytes: MiB,
    diskQuotaBytes: 1024 * MiB,
    backend: "local",
    warmSandboxes: 0,
    version: "test",
    log: () => {},
    ...options,
  });
  closing.push(() => running.close());
  return running;
}
const closing: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closing.splice(0)) await close();
});

describe("E: Node's request timeout", () => {
  it("is off (terminal and streamed-stdin execs run to their own deadlines, up to an hour); the header deadline stays", async () => {
    const running = await inProcessServer();
    expect(running.http.requestTimeout).toBe(0);
    expect(running.http.headersTimeout).toBe(60_000);
  });
});
describe("F: connections", () => {
  /** A TCP connection to `url` that sends nothing; `closed` settles when the server ends it. */
  const idleConnection = async (url: string) => {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    await once(socket, "connect");
    const closed = once(socket, "close");
    socket.on("error", () => {});
    return { socket, closed };
  };

  it("past --max-connections new connections are refused; connections that send no request are closed after the first-request deadline, requests in flight are not", async () => {
    const running = await inProcessServer({ maxConnections: 4, firstRequestTimeoutMs: 300 });
    expect(running.http.maxConnections).toBe(4);
    // A request whose headers are in (its deadline is gone) and whose body comes later.
    const slow = request(new URL(`${running.url}/api/v1/disk`), {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json", "content-length": "2" },
    });
    const answer = new Promise<number>((resolve, reject) => {
      slow.once("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      slow.once("error", reject);
    });
    answer.catch(() => {});
    slow.write("{");
    const idle = await Promise.all([0, 1, 2].map(() => idleConnection(running.url)));
    await expect(fetch(`${running.url}/health`)).rejects.toThrow(); // the fifth connection
    await Promise.all(idle.map((connection) => connection.closed)); // the first-request deadline
    slow.end("}");
    expect(await answer).toBe(201);
    expect((await fetch(`${running.url}/health`)).status).toBe(200);
  });

  it("the default: at most 1000 connections, or a quarter of the descriptors this process may open", async () => {
    const running = await inProcessServer();
    const limit = Number(/^Max open files\s+(\d+)/m.exec(await readFile("/proc/self/limits", "utf8"))?.[1]);
    expect(running.http.maxConnections).toBe(Math.min(1000, Math.floor(limit / 4)));
  });

  it("--max-connections reaches the server; server status shows the connection and buffered-exec limits", async () => {
    const server = await startServerProcess({ args: ["--warm", "0", "--max-connections", "7"] });
    const { body } = await call(server, "GET", "/server/status");
    expect(body.data.limits).toMatchObject({ max_connections: 7, max_buffered_execs: 32 });
  });
});

const hostLimits = needs("G: sandbox limits against the host, and sandboxes per server", LOCAL_SANDBOXES);
describe.skipIf(hostLimits.skip)(hostLimits.title, () => {
  it("limits beyond what this host has are a 400 naming its capacity; nothing is created", async () => {
    const server = await startServerProcess({ args: ["--warm", "0"] });
    const memoryMiB = Math.floor(totalmem() / MiB);
    const pidMax = Number((await readFile("/proc/sys/kernel/pid_max", "utf8")).trim());
    const cases: Array<[Record<string, number>, string]> = [
      [{ memory_mb: memoryMiB + 1 }, `memory_mb ${memoryMiB + 1} is more than this host's memory (${memoryMiB} MiB)`],
      [{ disk_mb: memoryMiB + 1 }, `disk_mb ${memoryMiB + 1} is more than this host can give one sandbox's disk (${memoryMiB} MiB)`],
    ];
    if (Math.floor(pidMax / 2) + 1 <= 65536) {
      cases.push([
        { pids: Math.floor(pidMax / 2) + 1 },
        `pids ${Math.floor(pidMax / 2) + 1} is more than half of this host's processes (kernel.pid_max ${pidMax}): at most ${Math.floor(pidMax / 2)}`,
      ]);
    }
    if (availableParallelism() < 64)
      cases.push([{ cpus: availableParallelism() + 1 }, `cpus ${availableParallelism() + 1} is more than this host's ${availableParallelism()} CPUs`]);
    for (const [limits, message] of cases) {
      const { status, body } = await call(server, "POST", "/sandbox", { limits });
      expect(status, JSON.stringify(limits)).toBe(400);
      expect(body).toEqual({ code: 400, msg: "limits beyond this host", error: message });
    }
    // The review's request, on a host smaller than it asks for.
    if (totalmem() < 64 * 1024 * MiB) {
      const { status, body } = await call(server, "POST", "/sandbox", { limits: { memory_mb: 65536, pids: 65536, cpus: 64, disk_mb: 1048576 } });
      expect(status).toBe(400);
      expect(body.error).toContain("memory_mb 65536 is more than this host's memory");
    }
    expect((await call(server, "GET", "/sandbox/logs")).body.data.items).toEqual([]);
    // Within the host: created.
    expect((await call(server, "POST", "/sandbox", { limits: { memory_mb: memoryMiB, pids: Math.min(Math.floor(pidMax / 2), 4096) } })).status).toBe(201);
  });

  it("at most --max-sandboxes run at once: one more is a 429 that says so; killing one makes room", async () => {
    const server = await startServerProcess({ args: ["--warm", "0", "--max-sandboxes", "2"] });
    const first = await newSandbox(server);
    await newSandbox(server);
    const over = await call(server, "POST", "/sandbox");
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ code: 429, msg: "too many sandboxes running" });
    expect(over.body.error).toMatch(/at most 2 sandboxes .*--max-sandboxes/);
    expect((await call(server, "DELETE", `/sandbox/${first}`)).status).toBe(200);
    await newSandbox(server);
    const status = await call(server, "GET", "/server/status");
    expect(status.body.data.sandboxes).toMatchObject({ running: 2, max: 2 });
  });
});
