// The embedded server against plain `cp`, in the same run: a 1 GiB upload and download through
// the real server (a child process on loopback), its peak RSS, and small-artifact GET throughput
// under load (autocannon). Prints Markdown. BENCH_UPLOAD_MB changes the large file's size.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, readFileSync, statSync } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

const cli = fileURLToPath(new URL("../bin/acontext.js", import.meta.url));
const sizeMiB = Number(process.env.BENCH_UPLOAD_MB ?? 1024);
const size = sizeMiB * 1024 * 1024;
const KEY = "sk-ac-bench";
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

async function median(run) {
  const results = [];
  for (let i = 0; i < RUNS; i++) results.push(await run());
  return results.sort((a, b) => a - b)[Math.floor(results.length / 2)];
}

export async function benchServer() {
  const work = await mkdtemp(join(tmpdir(), "acontext-bench-"));
  let server;
  try {
    const source = join(work, "big.bin");
    await writeRandomFile(source, size);
    const sourceHash = await sha256(source);

    // Baselines: plain cp (GNU cp uses copy_file_range: the kernel copies page to page), and cp
    // followed by sync, which like our upload has the bytes on disk when it returns. Before each
    // timed run, `sync` flushes earlier writes so no run pays for another's dirty pages. Each
    // operation runs RUNS times; the tables show the median.
    const copy = join(work, "copy.bin");
    const cpSeconds = await median(async () => {
      settle();
      const t = time(() => spawnSync("cp", [source, copy], { stdio: "inherit" }));
      await rm(copy);
      return t;
    });
    const durableCpSeconds = await median(async () => {
      settle();
      const t = time(() => {
        spawnSync("cp", [source, copy], { stdio: "inherit" });
        spawnSync("sync", [copy]);
      });
      await rm(copy);
      return t;
    });

    server = await startServer(join(work, "data"));
    const api = (path, init = {}) => fetch(`${server.url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${KEY}`, ...init.headers } });
    const diskId = (await (await api("/disk", { method: "POST" })).json()).data.id;

    const uploadSeconds = await median(async () => {
      settle();
      const start = process.hrtime.bigint();
      const status = await uploadFile(server.url, diskId, source);
      if (status !== 201) throw new Error(`upload answered ${status}`);
      return seconds(start);
    });
    const peakRssMiB = peakRss(server.pid);

    const downloaded = join(work, "down.bin");
    const downloadSeconds = await median(async () => {
      // Removed first: truncating the last run's 1 GiB inside the timed part cost ~1 s.
      await rm(downloaded, { force: true });
      settle();
      const start = process.hrtime.bigint();
      await downloadFile(`${server.url}/api/v1/disk/${diskId}/artifact/download?file_path=/big.bin`, downloaded);
      return seconds(start);
    });
    if ((await sha256(downloaded)) !== sourceHash) throw new Error("the downloaded file differs from the upload");

    // Where a download's time goes: the same GET with the bytes thrown away, in a process of its
    // own, through node:http (whose parser copies every body chunk) and through a bare socket.
    const downloadUrl = `${server.url}/api/v1/disk/${diskId}/artifact/download?file_path=/big.bin`;
    const getDiscard = fileURLToPath(new URL("get-discard.cjs", import.meta.url));
    const discardEnv = { ...process.env, BODY_BYTES: String(size) };
    const discardSeconds = await median(async () => (await timedChild([getDiscard, "http", downloadUrl, KEY], discardEnv)).seconds);
    const socketSeconds = await median(async () => (await timedChild([getDiscard, "socket", downloadUrl, KEY], discardEnv)).seconds);

    // The same through the CLI (`acontext disk cp`), with the CLI's peak RSS.
    const cliEnv = { ...process.env, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: KEY };
    let cliUploadRss = 0;
    const cliUploadSeconds = await median(async () => {
      settle();
      const run = await timedChild([cli, "disk", "cp", source, `disk://${diskId}/cli/`], cliEnv);
      cliUploadRss = Math.max(cliUploadRss, run.peakRssMiB);
      return run.seconds;
    });
    let cliDownloadRss = 0;
    const cliDownloadSeconds = await median(async () => {
      await rm(downloaded, { force: true });
      settle();
      const run = await timedChild([cli, "disk", "cp", `disk://${diskId}/cli/big.bin`, downloaded], cliEnv);
      cliDownloadRss = Math.max(cliDownloadRss, run.peakRssMiB);
      return run.seconds;
    });
    if ((await sha256(downloaded)) !== sourceHash) throw new Error("the CLI's download differs from the upload");

    const small = new FormData();
    small.append("file", new Blob([randomBytes(512).toString("hex")]), "small.txt");
    if ((await api(`/disk/${diskId}/artifact`, { method: "POST", body: small })).status !== 201) throw new Error("small upload failed");
    const load = await autocannon({
      url: `${server.url}/api/v1/disk/${diskId}/artifact?file_path=/small.txt&with_public_url=false`,
      headers: { authorization: `Bearer ${KEY}` },
      connections: 16,
      amount: 20_000,
    });
    if (load.errors || load.non2xx) throw new Error(`load run had ${load.errors} errors and ${load.non2xx} non-2xx answers`);

    const mbps = (secs) => (sizeMiB / secs).toFixed(0);
    const lines = [
      `Server transfer, ${sizeMiB} MiB file, loopback, median of ${RUNS} runs, Node ${process.version}`,
      "",
      "| operation | median s | MiB/s | throughput vs `cp` | vs `cp` + `sync` |",
      "| --- | --- | --- | --- | --- |",
      `| \`cp\` (baseline) | ${cpSeconds.toFixed(2)} | ${mbps(cpSeconds)} | 1.00× | ${(durableCpSeconds / cpSeconds).toFixed(2)}× |`,
      `| \`cp\` + \`sync\` (durable baseline) | ${durableCpSeconds.toFixed(2)} | ${mbps(durableCpSeconds)} | ${(cpSeconds / durableCpSeconds).toFixed(2)}× | 1.00× |`,
      `| upload (multipart POST, fsynced before 201) | ${uploadSeconds.toFixed(2)} | ${mbps(uploadSeconds)} | ${(cpSeconds / uploadSeconds).toFixed(2)}× | ${(durableCpSeconds / uploadSeconds).toFixed(2)}× |`,
      `| download (GET artifact/download to a file) | ${downloadSeconds.toFixed(2)} | ${mbps(downloadSeconds)} | ${(cpSeconds / downloadSeconds).toFixed(2)}× | ${(durableCpSeconds / downloadSeconds).toFixed(2)}× |`,
      `| the same GET, bytes discarded (node:http) | ${discardSeconds.toFixed(2)} | ${mbps(discardSeconds)} | ${(cpSeconds / discardSeconds).toFixed(2)}× | ${(durableCpSeconds / discardSeconds).toFixed(2)}× |`,
      `| the same GET, bytes discarded (bare socket) | ${socketSeconds.toFixed(2)} | ${mbps(socketSeconds)} | ${(cpSeconds / socketSeconds).toFixed(2)}× | ${(durableCpSeconds / socketSeconds).toFixed(2)}× |`,
      `| \`acontext disk cp\` local → disk | ${cliUploadSeconds.toFixed(2)} | ${mbps(cliUploadSeconds)} | ${(cpSeconds / cliUploadSeconds).toFixed(2)}× | ${(durableCpSeconds / cliUploadSeconds).toFixed(2)}× |`,
      `| \`acontext disk cp\` disk → local | ${cliDownloadSeconds.toFixed(2)} | ${mbps(cliDownloadSeconds)} | ${(cpSeconds / cliDownloadSeconds).toFixed(2)}× | ${(durableCpSeconds / cliDownloadSeconds).toFixed(2)}× |`,
      "",
      `Server peak RSS (VmHWM) after the upload: ${peakRssMiB.toFixed(0)} MiB; CLI peak RSS: ${cliUploadRss.toFixed(0)} MiB uploading, ${cliDownloadRss.toFixed(0)} MiB downloading`,
      "",
      `Small-artifact GET (1 KiB text, with content), ${load.requests.total} requests, 16 connections:`,
      `${load.requests.average.toFixed(0)} req/s, latency p50 ${load.latency.p50} ms, p99 ${load.latency.p99} ms, errors ${load.errors}`,
    ];
    return lines.join("\n");
  } finally {
    if (server) {
      server.child.kill("SIGTERM");
      await new Promise((resolve) => server.child.once("exit", resolve));
    }
    await rm(work, { recursive: true, force: true });
  }
}

async function writeRandomFile(path, bytes) {
  const block = randomBytes(1024 * 1024);
  const file = await open(path, "w");
  for (let written = 0; written < bytes; written += block.length) await file.write(block, 0, Math.min(block.length, bytes - written));
  await file.close();
}

async function sha256(path) {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

function startServer(dataDir) {
  const child = spawn(process.execPath, [cli, "server", "start", "--port", "0", "--data-dir", dataDir, "--api-key", KEY, "--max-upload", "4GiB"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", (url) => resolve({ url, pid: child.pid, child }));
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
}

/** A streaming multipart upload with an exact Content-Length: the file is never in memory. */
function uploadFile(url, diskId, path) {
  const boundary = `bench${randomBytes(8).toString("hex")}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return new Promise((resolve, reject) => {
    const req = request(`${url}/api/v1/disk/${diskId}/artifact`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${KEY}`,
        "content-type": `multipart/form-data; boundary=${boundary}`,
        "content-length": head.length + statSync(path).size + tail.length,
      },
    });
    req.once("response", (res) => {
      res.resume();
      res.once("end", () => resolve(res.statusCode));
    });
    req.once("error", reject);
    req.write(head);
    const file = createReadStream(path, { highWaterMark: 1024 * 1024 });
    file.pipe(req, { end: false });
    file.once("end", () => req.end(tail));
  });
}

/** A streaming download with node:http (undici's fetch body is the bottleneck at this size). */
function downloadFile(url, path) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${KEY}` } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`download answered ${res.statusCode}`));
      pipeline(res, createWriteStream(path, { highWaterMark: 1024 * 1024 })).then(resolve, reject);
    });
    req.once("error", reject);
    req.end();
  });
}

/** Runs `node args` to completion; its time and peak RSS (VmHWM, sampled while it runs). */
function timedChild(args, env) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { env, stdio: "ignore" });
    let peak = 0;
    const sample = setInterval(() => {
      try {
        peak = Math.max(peak, peakRss(child.pid));
      } catch {
        // exiting
      }
    }, 20);
    child.once("exit", (code) => {
      clearInterval(sample);
      if (code !== 0) reject(new Error(`${args.join(" ")} exited with ${code}`));
      else resolve({ seconds: seconds(start), peakRssMiB: peak });
    });
  });
}

function peakRss(pid) {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : 0;
}

function settle() {
  spawnSync("sync");
}

function time(fn) {
  const start = process.hrtime.bigint();
  fn();
  return seconds(start);
}

function seconds(start) {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
