// What the benchmarks share: a server to measure, calls to its API, timing and percentiles.
import { spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const cli = fileURLToPath(new URL("../bin/acontext.js", import.meta.url));
export const KEY = "sk-ac-bench";
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** `acontext server start` on a free port with `args`; `api(method, path, body)` calls it. */
export async function startServer(env, dataDir, args) {
  const child = spawn(process.execPath, [cli, "server", "start", "--port", "0", "--data-dir", dataDir, "--api-key", KEY, ...args], {
    env,
    stdio: ["ignore", "pipe", "ignore"],
  });
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  return {
    url,
    api: (method, path, body) => call(url, method, path, body),
    stop: async () => {
      child.kill("SIGTERM");
      if (child.exitCode === null) await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

export function call(url, method, path, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${url}/api/v1${path}`,
      {
        method,
        agent,
        headers: { authorization: `Bearer ${KEY}`, ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}) },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const parsed = JSON.parse(Buffer.concat(chunks).toString() || "{}");
          if (res.statusCode >= 400) reject(new Error(`${method} ${path}: ${res.statusCode} ${parsed.msg}`));
          else resolve(parsed);
        });
      },
    );
    req.once("error", reject);
    req.end(payload);
  });
}

export function samples(n, fn) {
  return Array.from({ length: n }, fn);
}

export function timeSync(fn) {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

export function stats(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

/** `count` times: create, then a first exec; with `pauseMs` between rounds. Keeps the sandboxes. */
export async function createAndExec(server, count, pauseMs) {
  const creates = [];
  const ttis = [];
  const ids = [];
  for (let i = 0; i < count; i++) {
    if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const start = performance.now();
    const id = (await server.api("POST", "/sandbox")).data.sandbox_id;
    creates.push(performance.now() - start);
    const result = await server.api("POST", `/sandbox/${id}/exec`, { command: "true" });
    if (result.data.exit_code !== 0) throw new Error("exec failed");
    ttis.push(performance.now() - start);
    ids.push(id);
  }
  return { creates, ttis, ids };
}
