// The server's bounds against a client that sends too much, hangs up, or sends a regex that
// backtracks for minutes; and a server started to listen beyond this machine without a chosen key.
// Real server processes where memory, descriptors or the event loop are the point.
import { randomBytes } from "node:crypto";
import { readdir, readFile, readlink, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sleep } from "../../src/shared/processes.js";
import { lineWatcher, runCli, spawnCli } from "../helpers/cli.js";
import { type Envelope, inProcessApp, type ServerProcess, startServerProcess, TEST_KEY, tempDataDir, uploadForm } from "../helpers/server.js";

const MiB = 1024 * 1024;
const BOUNDARY = "acontext-limits-boundary";

/** A request whose body the test writes by hand; `response` is its status and envelope. */
function rawRequest(server: ServerProcess, method: string, path: string, headers: Record<string, string>) {
  const req = request(new URL(`${server.url}/api/v1${path}`), { method, headers: { authorization: `Bearer ${TEST_KEY}`, ...headers } });
  const response = new Promise<{ status: number; body: Envelope }>((resolve, reject) => {
    req.once("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.once("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as Envelope }));
      res.once("error", reject);
    });
    // Writes that fail after the server has answered and hung up are expected.
    req.on("error", reject);
  });
  response.catch(() => {});
  return { req, response };
}

/** A multipart upload of `filename` whose file part the test writes (and may abandon). */
function openUpload(server: ServerProcess, diskId: string, filename: string) {
  const upload = rawRequest(server, "POST", `/disk/${diskId}/artifact`, { "content-type": `multipart/form-data; boundary=${BOUNDARY}` });
  upload.req.write(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  return { ...upload, finish: () => upload.req.end(`\r\n--${BOUNDARY}--\r\n`) };
}

async function newDisk(server: ServerProcess): Promise<string> {
  return ((await (await server.api("/disk", { method: "POST" })).json()) as Envelope<{ id: string }>).data.id;
}

/** Resident memory of a process in bytes: now (VmRSS) or its peak so far (VmHWM). */
async function memory(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(await readFile(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** User + system CPU time of a process, in clock ticks (1/100 s). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

async function openFds(pid: number): Promise<string[]> {
  const fds = await readdir(`/proc/${pid}/fd`);
  return Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => "gone")));
}

/** Polls `check` until it holds, at most `tries` times, 50 ms apart; true if it held. */
async function until(check: () => Promise<boolean>, tries = 200): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return true;
    await sleep(50);
  }
  return false;
}

/** The descriptor count once it stops changing (three equal readings in a row). */
async function settledFdCount(pid: number): Promise<number> {
  const readings: number[] = [];
  await until(async () => {
    readings.push((await openFds(pid)).length);
    return readings.length >= 3 && readings.slice(-3).every((n) => n === readings.at(-1));
  });
  return readings.at(-1)!;
}

const tmpFiles = (server: ServerProcess) => readdir(join(server.dataDir, "tmp"));

describe("request bodies (--max-body)", () => {
  const json = { "content-type": "application/json" };
  /** A Web stream body: no Content-Length, as a chunked upload. */
  const streamed = (text: string) => new Blob([text]).stream();

  it("in-process: JSON and form bodies over the limit are a 413 envelope, with a Content-Length or streamed", async () => {
    const server = await inProcessApp({ maxBodyBytes: 1024 });
    const diskId = ((await (await server.request("/api/v1/disk", { method: "POST" })).json()) as Envelope).data.id;
    const big = JSON.stringify({ user: "x".repeat(2000), command: "true" });
    const cases: Array<[string, string, RequestInit]> = [
      ["POST", "/api/v1/disk", { headers: { ...json, "content-length": String(big.length) }, body: big }],
      ["POST", "/api/v1/disk", { headers: json, body: streamed(big), duplex: "half" } as RequestInit],
      ["POST", "/api/v1/disk", { headers: { "content-type": "application/x-www-form-urlencoded" }, body: `user=${"x".repeat(2000)}` }],
      ["PUT", `/api/v1/disk/${diskId}/artifact`, { headers: json, body: big }],
      ["POST", `/api/v1/disk/${diskId}/artifact/upload_from_sandbox`, { headers: json, body: streamed(big), duplex: "half" } as RequestInit],
      // The sandbox routes get it too (without sandboxes they would answer 503).
      ["POST", "/api/v1/sandbox", { headers: json, body: big }],
      ["POST", "/api/v1/sandbox/00000000-0000-4000-8000-000000000000/exec", { headers: json, body: streamed(big), duplex: "half" } as RequestInit],
    ];
    for (const [method, path, init] of cases) {
      const response = await server.request(path, { method, ...init });
      expect(response.status, `${method} ${path}`).toBe(413);
      expect(await response.json()).toEqual({ code: 413, msg: "request body too large", error: "the limit is 1024 bytes" });
    }
    const small = await server.request("/api/v1/disk", {
      method: "POST",
      headers: json,
      body: streamed(JSON.stringify({ user: "alice" })),
      duplex: "half",
    } as RequestInit);
    expect(small.status).toBe(201);
  });

  it("in-process: artifact uploads and raw exec stdin stream past it (they have limits of their own)", async () => {
    const server = await inProcessApp({ maxBodyBytes: 1024, maxUploadBytes: MiB });
    const diskId = ((await (await server.request("/api/v1/disk", { method: "POST" })).json()) as Envelope).data.id;
    const upload = await server.request(`/api/v1/disk/${diskId}/artifact`, { method: "POST", body: uploadForm("big.bin", randomBytes(64 * 1024)) });
    expect(upload.status).toBe(201);
    for (const type of ["application/octet-stream", "application/x-acontext-tty"]) {
      const exec = await server.request("/api/v1/sandbox/00000000-0000-4000-8000-000000000000/exec", {
        method: "POST",
        headers: { "content-type": type, "x-acontext-exec": '{"command":"cat"}' },
        body: randomBytes(64 * 1024),
      });
      expect(exec.status, type).toBe(503); // this app has no sandboxes: past the body limit, to the route
    }
  });

  it("a declared Content-Length over the limit is a 413 before any of the body is sent", async () => {
    const server = await startServerProcess({ args: ["--max-body", "64KiB", "--warm", "0"] });
    const { req, response } = rawRequest(server, "POST", "/disk", { ...json, "content-length": String(300 * MiB) });
    req.flushHeaders();
    expect(await response).toEqual({ status: 413, body: { code: 413, msg: "request body too large", error: "the limit is 65536 bytes" } });
    req.destroy();
  });

  it("a chunked body over the limit is a 413 as it arrives, and the server's memory does not grow with it", async () => {
    const server = await startServerProcess({ args: ["--warm", "0"] });
    const before = await memory(server.pid, "VmRSS");
    const { req, response } = rawRequest(server, "POST", "/disk", json);
    let answered = false;
    const stop = new Promise((resolve) => {
      response.then(resolve, resolve).finally(() => (answered = true));
      req.once("close", resolve);
    });
    const chunk = Buffer.alloc(MiB, "x");
    req.write('{"user":"');
    for (let sent = 0; sent < 200 * MiB && !answered && !req.destroyed; sent += chunk.length) {
      if (!req.write(chunk)) await Promise.race([new Promise((resolve) => req.once("drain", resolve)), stop]);
    }
    if (!answered && !req.destroyed) req.end('"}');
    expect(await response).toMatchObject({ status: 413, body: { code: 413, msg: "request body too large" } });
    req.destroy();
    // VmHWM is the peak: whatever the server held at any moment, not just now.
    const peak = await memory(server.pid, "VmHWM");
    expect(peak - before, `peak ${peak >> 20} MiB, ${before >> 20} MiB before`).toBeLessThan(100 * MiB);
  });
});

describe("aborted and refused uploads", () => {
  it("clients that hang up mid-upload leave no temp file and no open descriptor behind", async () => {
    const server = await startServerProcess({ args: ["--warm", "0"] });
    const diskId = await newDisk(server);
    const baseline = await settledFdCount(server.pid);
    const uploads = Array.from({ length: 20 }, (_, i) => openUpload(server, diskId, `u${i}.bin`));
    for (const upload of uploads) upload.req.write(randomBytes(256 * 1024));
    expect(await until(async () => (await tmpFiles(server)).length === uploads.length), "every upload is staging").toBe(true);

    for (const upload of uploads) upload.req.destroy();
    const clean = await until(async () => (await tmpFiles(server)).length === 0 && (await openFds(server.pid)).length <= baseline);
    expect(await tmpFiles(server)).toEqual([]);
    expect(clean, `descriptors: ${(await openFds(server.pid)).join(" ")} (baseline ${baseline})`).toBe(true);

    const after = await server.api(`/disk/${diskId}/artifact`, { method: "POST", body: uploadForm("ok.txt", "fine") });
    expect(after.status).toBe(201);
  });

  it("uploads over --max-upload are a 413 that leaves no temp file and no open descriptor behind", async () => {
    const server = await startServerProcess({ args: ["--max-upload", "1MiB", "--warm", "0"] });
    const diskId = await newDisk(server);
    const baseline = await settledFdCount(server.pid);
    const uploads = Array.from({ length: 5 }, (_, i) => openUpload(server, diskId, `big${i}.bin`));
    for (const upload of uploads) {
      upload.req.write(randomBytes(2 * MiB));
      upload.finish();
    }
    for (const upload of uploads) expect(await upload.response).toMatchObject({ status: 413, body: { code: 413, msg: "file too large" } });
    const clean = await until(async () => (await tmpFiles(server)).length === 0 && (await openFds(server.pid)).length <= baseline);
    expect(await tmpFiles(server)).toEqual([]);
    expect(clean, `descriptors: ${(await openFds(server.pid)).join(" ")} (baseline ${baseline})`).toBe(true);
  });
});

describe("disk quotas (--disk-quota)", () => {
  it("an upload past what is left of a disk's quota is a 413 that stores nothing; other disks and replacements within it go on", async () => {
    const { request } = await inProcessApp({ maxUploadBytes: 10 * MiB, diskQuotaBytes: 3 * MiB });
    const disk = async () => ((await (await request("/api/v1/disk", { method: "POST" })).json()) as Envelope).data.id as string;
    const upload = (id: string, name: string, bytes: number) =>
      request(`/api/v1/disk/${id}/artifact`, { method: "POST", body: uploadForm(name, randomBytes(bytes), { file_path: "/" }) });
    const full = await disk();
    expect((await upload(full, "a.bin", 2 * MiB)).status).toBe(201);
    const over = await upload(full, "b.bin", 2 * MiB);
    expect(over.status).toBe(413);
    expect(((await over.json()) as Envelope).msg).toBe("disk quota exceeded");
    expect((await upload(full, "c.bin", MiB / 2)).status).toBe(201);
    const listing = ((await (await request(`/api/v1/disk/${full}/artifact/ls?path=/`)).json()) as Envelope).data.artifacts as Array<{ filename: string }>;
    expect(listing.map((artifact) => artifact.filename).sort()).toEqual(["a.bin", "c.bin"]);
    expect((await upload(await disk(), "b.bin", 2 * MiB)).status).toBe(201);
  });
});

describe("grep with a catastrophic regular expression", () => {
  it("is stopped at its deadline with a 400, and the server answers others meanwhile", async () => {
    const server = await startServerProcess({ args: ["--warm", "0"] });
    const diskId = await newDisk(server);
    // (a+)+$ against a's followed by a b backtracks 2^n ways: minutes for 30 a's.
    const created = await server.api(`/disk/${diskId}/artifact`, { method: "POST", body: uploadForm("evil.txt", `${"a".repeat(30)}b\n`) });
    expect(created.status).toBe(201);

    const cpuBefore = await cpuTicks(server.pid);
    let settled = false;
    const grep = server.api(`/disk/${diskId}/artifact/grep?query=${encodeURIComponent("(a+)+$")}`).finally(() => (settled = true));
    // The grep is under way once the server has spent a fifth of a second of CPU on it.
    expect(await until(async () => settled || (await cpuTicks(server.pid)) >= cpuBefore + 20)).toBe(true);
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(settled, "the grep answered before /health did").toBe(false);

    const response = await grep;
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 400, msg: "grep took too long" });
    // The server goes on grepping.
    const fine = (await (await server.api(`/disk/${diskId}/artifact/grep?query=${encodeURIComponent("a+b$")}`)).json()) as Envelope;
    expect(fine.data.map((a: { filename: string }) => a.filename)).toEqual(["evil.txt"]);
  });
});

describe("listening beyond loopback", () => {
  /** `server start` with these flags: its exit, or its URL once it listens (then it is stopped). */
  async function start(args: string[], env: Record<string, string> = {}) {
    const dataDir = await tempDataDir();
    await writeFile(join(dataDir, "api-key"), "sk-ac-generated-earlier\n", { mode: 0o600 }); // does not count as chosen
    const child = spawnCli(["server", "start", "--port", "0", "--data-dir", dataDir, ...args], { cwd: dataDir, env: { ACONTEXT_SERVER_API_KEY: "", ...env } });
    const stdout = lineWatcher(child.stdout!);
    const stderr = lineWatcher(child.stderr!);
    const url = await stdout.waitFor(/^http:\/\//).catch(() => undefined);
    let health: number | undefined;
    if (url) {
      health = (await fetch(`${url}/health`)).status;
      child.kill("SIGINT");
    }
    const { exitCode } = await child;
    // --detach may have left one in the background.
    await runCli(["server", "stop", "--force", "--data-dir", dataDir], { cwd: dataDir });
    return { url, health, exitCode, stderr: stderr.text() };
  }

  it.each([[[]], [["--detach"]]])("--host 0.0.0.0 %j without a chosen API key is refused, naming both ways to choose one", async (extra) => {
    const result = await start(["--host", "0.0.0.0", ...extra]);
    expect(result.url).toBeUndefined();
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("--host 0.0.0.0 makes the server reachable from other machines");
    expect(result.stderr).toMatch(/hint: .*--api-key .*ACONTEXT_SERVER_API_KEY/);
  });

  it.each([
    [["--api-key", "sk-ac-chosen"], {}],
    [[], { ACONTEXT_SERVER_API_KEY: "sk-ac-chosen" }],
  ])("--host 0.0.0.0 with a chosen key (%j %j) starts, with a warning on stderr", async (args, env) => {
    const result = await start(["--host", "0.0.0.0", ...args], env);
    expect(result.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    expect(result.health).toBe(200);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/warning: .*0\.0\.0\.0.* reachable from other machines/);
  });
});
