// `acontext server start|stop|status` as a user runs them: the built CLI, real processes, temp
// data dirs, random ports.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort, runCli } from "../helpers/cli.js";
import { startServerProcess, tempDataDir } from "../helpers/server.js";

describe("acontext server", () => {
  it("start generates a key (0600, sk-ac-…) and prints the URL; status reports counts; Ctrl-C stops it", async () => {
    const dataDir = await tempDataDir();
    const { execa } = await import("execa");
    const child = execa(process.execPath, [join(import.meta.dirname, "../../bin/acontext.js"), "server", "start", "--port", "0", "--data-dir", dataDir], {
      reject: false,
      buffer: false,
      env: { ...process.env, ACONTEXT_SERVER_API_KEY: "" },
    });
    try {
      const url = await new Promise<string>((resolve) => child.stdout!.once("data", (d: Buffer) => resolve(d.toString().trim())));
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const key = (await readFile(join(dataDir, "api-key"), "utf8")).trim();
      expect(key).toMatch(/^sk-ac-[A-Za-z0-9_-]{43}$/);
      expect((await stat(join(dataDir, "api-key"))).mode & 0o777).toBe(0o600);

      const disk = await fetch(`${url}/api/v1/disk`, { method: "POST", headers: { authorization: `Bearer ${key}` } });
      expect(disk.status).toBe(201);
      const status = await runCli(["server", "status", "--data-dir", dataDir, "--json"], { cwd: dataDir });
      expect(status.exitCode, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ url, pid: child.pid, data_dir: dataDir, disks: 1, artifacts: 0, bytes: 0 });
      const plain = await runCli(["server", "status", "--data-dir", dataDir], { cwd: dataDir });
      expect(plain.stdout).toMatch(/^url\s+http:\/\/127\.0\.0\.1:\d+$/m);
      expect(plain.stdout).toMatch(/^disks\s+1$/m);
      expect(plain.stdout).toMatch(/^limits\s+uploads 1 GiB, disks 10 GiB each, JSON bodies 2 MiB, grep 5 s, sandbox transfers 30 min and 10000 files$/m);
    } finally {
      child.kill("SIGINT");
    }
    const result = await child;
    expect(result.exitCode).toBe(0);
  });

  it("--detach runs it in the background with a log; stop ends it; status then says so", async () => {
    const dataDir = await tempDataDir();
    const port = await freePort();
    const started = await runCli(["server", "start", "--detach", "--port", String(port), "--data-dir", dataDir, "--json"], { cwd: dataDir });
    expect(started.exitCode, started.stderr).toBe(0);
    const info = JSON.parse(started.stdout);
    expect(info).toMatchObject({ url: `http://127.0.0.1:${port}`, data_dir: dataDir });
    try {
      expect((await fetch(`${info.url}/health`)).status).toBe(200);
      const again = await runCli(["server", "start", "--detach", "--data-dir", dataDir], { cwd: dataDir });
      expect(again.exitCode).toBe(1);
      expect(again.stderr).toContain("is already running at");
    } finally {
      const stopped = await runCli(["server", "stop", "--data-dir", dataDir], { cwd: dataDir });
      expect(stopped.exitCode).toBe(0);
      expect(stopped.stderr).toContain(`stopped the acontext server at ${info.url}`);
    }
    await expect(fetch(`${info.url}/health`)).rejects.toThrow();
    expect(await readFile(join(dataDir, "server.log"), "utf8")).toContain("SIGTERM: finishing requests in flight");
    const status = await runCli(["server", "status", "--data-dir", dataDir], { cwd: dataDir });
    expect(status.exitCode).toBe(1);
    expect(status.stderr).toContain("no acontext server is running");
    expect(status.stderr).toContain("hint: start one");
    const stopAgain = await runCli(["server", "stop", "--data-dir", dataDir], { cwd: dataDir });
    expect(stopAgain.exitCode).toBe(0);
    expect(stopAgain.stderr).toContain("no acontext server is running");
  });

  it("--detach keeps --api-key out of the process's command line", async () => {
    const dataDir = await tempDataDir();
    const started = await runCli(["server", "start", "--detach", "--port", "0", "--data-dir", dataDir, "--api-key", "sk-ac-secret-value", "--json"], {
      cwd: dataDir,
    });
    expect(started.exitCode, started.stderr).toBe(0);
    const info = JSON.parse(started.stdout);
    try {
      expect(info.api_key_file).toBeNull();
      expect(await readFile(`/proc/${info.pid}/cmdline`, "utf8")).not.toContain("sk-ac-secret-value");
      const ping = await fetch(`${info.url}/api/v1/ping`, { headers: { authorization: "Bearer sk-ac-secret-value" } });
      expect(ping.status).toBe(200);
    } finally {
      await runCli(["server", "stop", "--force", "--data-dir", dataDir], { cwd: dataDir });
    }
  });

  it("a server.json left by a killed server never makes stop signal another program", async () => {
    const dataDir = await tempDataDir();
    const { execa } = await import("execa");
    const stranger = execa("sleep", ["60"], { reject: false });
    try {
      const { writeFile } = await import("node:fs/promises");
      await writeFile(join(dataDir, "server.json"), JSON.stringify({ pid: stranger.pid, url: "http://127.0.0.1:1", data_dir: dataDir, api_key: "k" }));
      const stop = await runCli(["server", "stop", "--data-dir", dataDir], { cwd: dataDir });
      expect(stop.stderr).toContain("no acontext server is running");
      const status = await runCli(["server", "status", "--data-dir", dataDir], { cwd: dataDir });
      expect(status.exitCode).toBe(1);
      expect(stranger.exitCode).toBeNull();
      expect(process.kill(stranger.pid!, 0)).toBe(true);
    } finally {
      stranger.kill("SIGKILL");
      await stranger;
    }
  });

  it("refuses a second server on the same data dir, and a taken port", async () => {
    const running = await startServerProcess();
    const sameDir = await runCli(["server", "start", "--port", "0", "--data-dir", running.dataDir], { cwd: running.dataDir });
    expect(sameDir.exitCode).toBe(1);
    expect(sameDir.stderr).toContain(`is using ${running.dataDir} at ${running.url}`);

    const port = new URL(running.url).port;
    const otherDir = await tempDataDir();
    const samePort = await runCli(["server", "start", "--port", port, "--data-dir", otherDir], { cwd: otherDir });
    expect(samePort.exitCode).toBe(1);
    expect(samePort.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
    expect(samePort.stderr).toContain("hint: choose another with --port");
  });

  it.each([
    [["--port", "http"], "a port is a whole number"],
    [["--port", "70000"], "a port is a whole number"],
    [["--max-upload", "lots"], "a size like"],
    [["--max-body", "0"], "a size like"],
    [["--warm", "-1"], "a whole number from 0 to 1000"],
    [["--warm", "many"], "a whole number from 0 to 1000"],
    [["--bogus"], "unknown option"],
  ])("bad flags %j exit 2", async (args, message) => {
    const dataDir = await tempDataDir();
    const result = await runCli(["server", "start", "--data-dir", dataDir, ...args], { cwd: dataDir });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it("a bad ACONTEXT_WARM_SANDBOXES is a usage error that names it", async () => {
    const dataDir = await tempDataDir();
    const result = await runCli(["server", "start", "--data-dir", dataDir], { cwd: dataDir, env: { ACONTEXT_WARM_SANDBOXES: "lots" } });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("ACONTEXT_WARM_SANDBOXES=lots is not a whole number from 0 to 1000");
  });

  it("ACONTEXT_SERVER_MAX_BODY sets --max-body's default; a bad one is a usage error that names it", async () => {
    const server = await startServerProcess({ env: { ...(process.env as Record<string, string>), ACONTEXT_SERVER_MAX_BODY: "1KiB" }, args: ["--warm", "0"] });
    const status = (await (await server.api("/server/status")).json()) as { data: { limits: unknown } };
    expect(status.data.limits).toMatchObject({ max_upload_bytes: 1024 ** 3, max_body_bytes: 1024, disk_quota_bytes: 10 * 1024 ** 3, grep_timeout_seconds: 5 });
    const big = await server.api("/disk", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "x".repeat(1024) }),
    });
    expect(big.status).toBe(413);

    const dataDir = await tempDataDir();
    const bad = await runCli(["server", "start", "--data-dir", dataDir], { cwd: dataDir, env: { ACONTEXT_SERVER_MAX_BODY: "lots" } });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("ACONTEXT_SERVER_MAX_BODY=lots is not a size");
  });

  it("--max-upload is enforced over a real socket with a 413", async () => {
    const server = await startServerProcess({ args: ["--max-upload", "1KiB"] });
    const disk = ((await (await server.api("/disk", { method: "POST" })).json()) as { data: { id: string } }).data.id;
    const form = new FormData();
    form.append("file", new Blob([new Uint8Array(2048)]), "big.bin");
    const response = await server.api(`/disk/${disk}/artifact`, { method: "POST", body: form });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 413 });
    await server.stderr.waitFor(/POST \/api\/v1\/disk\/[0-9a-f-]+\/artifact 413/);
  });
});
