// Sandboxes through the HTTP API of a real server process (root only: real local sandboxes).
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CGROUPS, LOCAL_SANDBOXES, needs } from "../helpers/requirements.js";
import { call, type Envelope, type ServerProcess, startServerProcess, uploadForm } from "../helpers/server.js";

/** The server's sandbox folders in the machine's state dir (its namespace is its project id). */
async function sandboxDirs(server: ServerProcess): Promise<string[]> {
  const projectId = ((await call(server, "POST", "/disk")).body.data as { project_id: string }).project_id;
  return readdir(join(process.env.ACONTEXT_SANDBOX_DIR!, "sb", projectId)).catch(() => []);
}

const overHttp = needs("sandboxes over HTTP", LOCAL_SANDBOXES);
describe.skipIf(overHttp.skip)(overHttp.title, () => {
  it("runs the seed workflow: create, python, disk → sandbox, wc -l, sandbox → disk, kill", async () => {
    const server = await startServerProcess();
    const created = await call(server, "POST", "/sandbox");
    expect(created.status).toBe(201);
    const info = created.body.data;
    for (const field of ["sandbox_id", "sandbox_status", "sandbox_created_at", "sandbox_expires_at"]) expect(typeof info[field]).toBe("string");
    expect(info.sandbox_status).toBe("running");
    // Limits that do not hold for the whole sandbox here are said (none with cgroups).
    expect(info.warnings).toEqual(CGROUPS.ok ? undefined : expect.arrayContaining([expect.stringContaining("memory is limited per process")]));
    const id = info.sandbox_id;

    const version = await call(server, "POST", `/sandbox/${id}/exec`, { command: "python3 --version" });
    expect(version.body.data).toMatchObject({ exit_code: 0 });
    expect(version.body.data.stdout).toMatch(/^Python 3\./);
    const sum = await call(server, "POST", `/sandbox/${id}/exec`, { command: "python3 -c 'print(sum(range(10)))'" });
    expect(sum.body.data).toEqual({ stdout: "45\n", stderr: "", exit_code: 0 });

    const disk = (await call(server, "POST", "/disk")).body.data.id;
    const lines = "alpha\nbeta\ngamma\n";
    expect((await server.api(`/disk/${disk}/artifact`, { method: "POST", body: uploadForm("input.txt", lines, { file_path: "/data/" }) })).status).toBe(201);
    const down = await call(server, "POST", `/disk/${disk}/artifact/download_to_sandbox`, {
      file_path: "/data/",
      filename: "input.txt",
      sandbox_id: id,
      sandbox_path: "/workspace/",
    });
    expect(down.body.data).toEqual({ success: true });
    const count = await call(server, "POST", `/sandbox/${id}/exec`, { command: "wc -l < input.txt > count.txt && cat count.txt" });
    expect(count.body.data.stdout.trim()).toBe("3");
    const up = await call(server, "POST", `/disk/${disk}/artifact/upload_from_sandbox`, {
      sandbox_id: id,
      sandbox_path: "/workspace/",
      sandbox_filename: "count.txt",
      file_path: "/results/",
    });
    expect(up.status).toBe(201);
    expect(up.body.data).toMatchObject({ path: "/results/", filename: "count.txt" });
    const readBack = await server.api(`/disk/${disk}/artifact/download?file_path=/results/count.txt`);
    expect((await readBack.text()).trim()).toBe("3");

    const logs = await call(server, "GET", "/sandbox/logs");
    expect(logs.body.data.items[0]).toMatchObject({ id, backend_type: "local", backend_sandbox_id: id });
    expect(logs.body.data.items[0].history_commands).toContainEqual({ command: "python3 --version", exit_code: 0 });
    expect(logs.body.data.items[0].generated_files).toEqual([{ sandbox_path: "/workspace/count.txt" }]);

    expect((await call(server, "DELETE", `/sandbox/${id}`)).body.data).toEqual({ status: 0, errmsg: "" });
    expect((await call(server, "POST", `/sandbox/${id}/exec`, { command: "true" })).status).toBe(404);
    expect((await call(server, "DELETE", `/sandbox/${id}`)).status).toBe(404);
    expect((await call(server, "GET", `/sandbox/${id}`)).body.data).toMatchObject({ sandbox_status: "killed" });
    expect((await call(server, "GET", "/sandbox/logs")).body.data.items[0].backend_sandbox_id).toBeNull();
    // The sandbox kept warm for the next create goes with the server.
    const projectId = ((await call(server, "POST", "/disk")).body.data as { project_id: string }).project_id;
    expect(await readdir(join(process.env.ACONTEXT_SANDBOX_DIR!, "sb"))).toContain(projectId);
    expect(await server.kill("SIGTERM")).toMatchObject({ exitCode: 0 });
    // Nothing of its sandboxes is left, not even their empty folder.
    expect(await readdir(join(process.env.ACONTEXT_SANDBOX_DIR!, "sb"))).not.toContain(projectId);
  });

  it("stat says what a sandbox path is without running a command (nothing in the history)", async () => {
    const server = await startServerProcess();
    const id = (await call(server, "POST", "/sandbox")).body.data.sandbox_id;
    await call(server, "POST", `/sandbox/${id}/exec`, { command: "mkdir -p d && echo x > d/f && mkfifo p && ln -s d/f link && ln -s /nowhere dangling" });
    const stat = async (path: string) => (await call(server, "GET", `/sandbox/${id}/stat?path=${encodeURIComponent(path)}`)).body;
    expect(await stat("/workspace/d")).toMatchObject({ code: 0, data: { path: "/workspace/d", type: "dir" } });
    expect((await stat("/workspace/d/")).data.type).toBe("dir");
    expect((await stat("/workspace/d/f")).data.type).toBe("file");
    expect((await stat("/workspace/link")).data.type).toBe("file");
    expect((await stat("/workspace/p")).data.type).toBe("other");
    expect((await stat("/workspace/nope")).data.type).toBe("missing");
    expect((await stat("/workspace/dangling")).data.type).toBe("missing");
    expect((await stat("/workspace/d/f/under-a-file")).data.type).toBe("missing");
    expect(await stat("relative")).toMatchObject({ code: 400 });
    const log = (await call(server, "GET", "/sandbox/logs")).body.data.items.find((item: { id: string }) => item.id === id);
    expect(log.history_commands).toHaveLength(1);
    expect(log).toMatchObject({ keepalive_seconds: 600, killed_at: null, expires_at: expect.any(String) });
  });

  it("exec options: cwd, env, stdin, timeout; streamed NDJSON output and streamed raw stdin", async () => {
    const server = await startServerProcess();
    const id = (await call(server, "POST", "/sandbox")).body.data.sandbox_id;
    const run = (body: unknown) => call(server, "POST", `/sandbox/${id}/exec`, body).then((r) => r.body.data);
    expect(await run({ command: "pwd; echo $GREETING", cwd: "/tmp", env: { GREETING: "hi" } })).toMatchObject({ stdout: "/tmp\nhi\n" });
    expect(await run({ command: "tr a-z A-Z", stdin: "shout\n" })).toMatchObject({ stdout: "SHOUT\n" });
    expect(await run({ command: "exit 7" })).toMatchObject({ exit_code: 7 });
    const slow = await run({ command: "sleep 30", timeout: 1 });
    expect(slow.exit_code).toBe(124);
    expect(slow.stderr).toContain("timeout");

    const streamed = await server.api(`/sandbox/${id}/exec`, {
      method: "POST",
      headers: { accept: "application/x-ndjson", "content-type": "application/json" },
      body: JSON.stringify({ command: "echo out; echo err >&2; exit 3" }),
    });
    expect(streamed.headers.get("content-type")).toContain("application/x-ndjson");
    const events = (await streamed.text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const text = (type: string) =>
      events
        .filter((e) => e.type === type)
        .map((e) => Buffer.from(e.data, "base64").toString())
        .join("");
    expect(text("stdout")).toBe("out\n");
    expect(text("stderr")).toBe("err\n");
    expect(events[events.length - 1]).toEqual({ type: "exit", exit_code: 3, timed_out: false });

    const input = Buffer.alloc(3 * 1024 * 1024, "line\n");
    const raw = await server.api(`/sandbox/${id}/exec`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "x-acontext-exec": JSON.stringify({ command: "wc -l" }) },
      body: input,
    });
    expect(((await raw.json()) as Envelope).data.stdout.trim()).toBe(String(Math.floor(input.length / 5)));

    // On a terminal (extension exec-tty): a framed body of typed input and resizes.
    const frame = (type: string, data: string) => {
      const header = Buffer.alloc(5);
      header.write(type, 0, "latin1");
      header.writeUInt32BE(Buffer.byteLength(data), 1);
      return Buffer.concat([header, Buffer.from(data)]);
    };
    const onTerminal = (tty: unknown, body: Buffer) =>
      server.api(`/sandbox/${id}/exec`, {
        method: "POST",
        headers: {
          accept: "application/x-ndjson",
          "content-type": "application/x-acontext-tty",
          "x-acontext-exec": JSON.stringify({ command: "read a; stty size; tty", tty }),
        },
        body,
      });
    const terminal = await onTerminal({ rows: 20, cols: 70 }, Buffer.concat([frame("w", "25 90"), frame("i", "x\r")]));
    const lines = (await terminal.text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.filter((e) => e.type === "stderr")).toEqual([]);
    expect(
      lines
        .filter((e) => e.type === "stdout")
        .map((e) => Buffer.from(e.data, "base64").toString())
        .join(""),
    ).toMatch(/^x\r\n25 90\r\n\/dev\/pts\/\d+\r\n$/);
    expect(lines[lines.length - 1]).toEqual({ type: "exit", exit_code: 0, timed_out: false });
    for (const bad of [undefined, { rows: 0, cols: 80 }, { rows: 24 }, { rows: "24", cols: 80 }, { rows: 24.5, cols: 80 }]) {
      const refused = await onTerminal(bad, Buffer.alloc(0));
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as Envelope).error).toContain("tty must be {rows, cols}");
    }
  });

  it("PATCH extends the keepalive by exactly the seconds asked, from the current deadline", async () => {
    // When a sandbox then dies, busy or idle, is the service's policy: test/sandbox/keepalive.test.ts, on a manual clock.
    const server = await startServerProcess();
    const created = (await call(server, "POST", "/sandbox", { keepalive_seconds: 600 })).body.data;
    const extended = await call(server, "PATCH", `/sandbox/${created.sandbox_id}`, { keepalive_longer_by_seconds: 60 });
    expect(extended.status).toBe(200);
    expect(Date.parse(extended.body.data.sandbox_expires_at) - Date.parse(created.sandbox_expires_at)).toBe(60_000);
    expect(extended.body.data).toMatchObject({ sandbox_id: created.sandbox_id, sandbox_status: "running", keepalive_seconds: 600 });
    const again = (await call(server, "PATCH", `/sandbox/${created.sandbox_id}`, { keepalive_longer_by_seconds: 1 })).body.data;
    expect(Date.parse(again.sandbox_expires_at) - Date.parse(created.sandbox_expires_at)).toBe(61_000);
  });

  it("a server killed with SIGKILL takes its sandboxes along; the next one marks them killed, leaving nothing", async () => {
    const first = await startServerProcess();
    const id = (await call(first, "POST", "/sandbox")).body.data.sandbox_id;
    await call(first, "POST", `/sandbox/${id}/exec`, { command: "sleep 300 > /dev/null 2>&1 &" });
    // There before (so that "nothing left" could fail): its folder, and its cgroup where there are cgroups.
    const cgroup = join("/sys/fs/cgroup/pids/acontext", id);
    expect(await sandboxDirs(first)).toContain(id);
    expect(existsSync(cgroup)).toBe(CGROUPS.ok);
    await first.kill("SIGKILL");
    const second = await startServerProcess({ dataDir: first.dataDir });
    expect((await call(second, "GET", `/sandbox/${id}`)).body.data.sandbox_status).toBe("killed");
    expect((await call(second, "POST", `/sandbox/${id}/exec`, { command: "true" })).status).toBe(404);
    expect(await sandboxDirs(second)).toEqual([]);
    expect(existsSync(cgroup)).toBe(false);
  });

  it("moves whole folders between a disk and a sandbox in one call each (recursive extension)", async () => {
    const server = await startServerProcess();
    const id = (await call(server, "POST", "/sandbox")).body.data.sandbox_id;
    const disk = (await call(server, "POST", "/disk")).body.data.id;
    const files: Array<[string, string]> = [
      ["/proj/", "README.md"],
      ["/proj/src/", "main.py"],
      ["/proj/src/deep/", "name with space.txt"],
    ];
    for (const [dir, name] of files) {
      await server.api(`/disk/${disk}/artifact`, { method: "POST", body: uploadForm(name, `${dir}${name}\n`, { file_path: dir }) });
    }
    await server.api(`/disk/${disk}/artifact`, { method: "POST", body: uploadForm("other.txt", "not under /proj/", { file_path: "/" }) });

    const down = await call(server, "POST", `/disk/${disk}/artifact/download_to_sandbox`, {
      file_path: "/proj/",
      sandbox_id: id,
      sandbox_path: "/workspace/p",
      recursive: true,
    });
    expect(down.body.data).toEqual({ success: true, files: 3, bytes: files.reduce((sum, [dir, name]) => sum + dir.length + name.length + 1, 0) });
    const listed = await call(server, "POST", `/sandbox/${id}/exec`, {
      command: "cd /workspace/p && find . -type f | sort && cat 'src/deep/name with space.txt'",
    });
    expect(listed.body.data.stdout).toBe("./README.md\n./src/deep/name with space.txt\n./src/main.py\n/proj/src/deep/name with space.txt\n");

    // Back, with a file made in the sandbox and a symlink planted to a host file (skipped: not a regular file).
    await call(server, "POST", `/sandbox/${id}/exec`, { command: "echo new > /workspace/p/src/new.txt; ln -s /etc/hostname /workspace/p/link" });
    const up = await call(server, "POST", `/disk/${disk}/artifact/upload_from_sandbox`, {
      sandbox_id: id,
      sandbox_path: "/workspace/p/",
      file_path: "/back/",
      recursive: true,
    });
    expect(up.status).toBe(201);
    expect(up.body.data.artifacts.map((a: { path: string; filename: string }) => a.path + a.filename)).toEqual([
      "/back/README.md",
      "/back/src/deep/name with space.txt",
      "/back/src/main.py",
      "/back/src/new.txt",
    ]);
    expect(await (await server.api(`/disk/${disk}/artifact/download?file_path=/back/src/new.txt`)).text()).toBe("new\n");

    // A file path that is not a folder, and a sandbox folder that does not exist.
    expect(
      (await call(server, "POST", `/disk/${disk}/artifact/download_to_sandbox`, { file_path: "/proj", sandbox_id: id, sandbox_path: "/w", recursive: true }))
        .status,
    ).toBe(400);
    expect(
      (await call(server, "POST", `/disk/${disk}/artifact/upload_from_sandbox`, { sandbox_id: id, sandbox_path: "/nope/", file_path: "/x/", recursive: true }))
        .status,
    ).toBe(404);
  });

  it("moves a sandbox's files to and from the client (extension sandbox-files): exact sizes, regular files only, checked listings", async () => {
    const server = await startServerProcess({ args: ["--warm", "0"] });
    const id = (await call(server, "POST", "/sandbox")).body.data.sandbox_id;
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    const put = await server.api(`/sandbox/${id}/file?path=${encodeURIComponent("/workspace/in/dé jà.bin")}`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: bytes,
    });
    expect(put.status).toBe(200);
    expect(((await put.json()) as Envelope).data).toEqual({ path: "/workspace/in/dé jà.bin", size: bytes.length });
    const got = await server.api(`/sandbox/${id}/file?path=${encodeURIComponent("/workspace/in/dé jà.bin")}`);
    expect(got.headers.get("content-length")).toBe(String(bytes.length));
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);

    // A file that says 0 bytes and holds more gives what it said; one that grows, what it held when opened.
    const pagemap = await server.api(`/sandbox/${id}/file?path=/proc/self/pagemap`);
    expect(pagemap.headers.get("content-length")).toBe("0");
    expect((await pagemap.arrayBuffer()).byteLength).toBe(0);
    await call(server, "POST", `/sandbox/${id}/exec`, { command: "mkfifo /workspace/fifo; ln -s /etc /workspace/in/link; printf 123 > /workspace/in/small" });
    const fifo = await call(server, "GET", `/sandbox/${id}/file?path=/workspace/fifo`);
    expect(fifo).toMatchObject({ status: 400, body: { msg: "not a regular file" } });
    expect((await call(server, "GET", `/sandbox/${id}/file?path=/workspace/nope`)).status).toBe(404);
    expect((await call(server, "GET", `/sandbox/${id}/file?path=relative`)).status).toBe(400);

    const listed = await call(server, "GET", `/sandbox/${id}/files?path=/workspace/in`);
    expect(listed.body.data.files).toEqual([
      { path: "dé jà.bin", size: bytes.length },
      { path: "small", size: 3 },
    ]);
    expect((await call(server, "GET", `/sandbox/${id}/files?path=/workspace/in/small`)).status).toBe(400);
    expect((await call(server, "GET", `/sandbox/${id}/files?path=/workspace/none`)).status).toBe(404);
  });

  it("bad input gets a 4xx and changes nothing", async () => {
    const server = await startServerProcess();
    const id = (await call(server, "POST", "/sandbox")).body.data.sandbox_id;
    const cases: Array<[string, string, unknown, number]> = [
      ["POST", "/sandbox/not-a-uuid/exec", { command: "true" }, 400],
      ["POST", `/sandbox/${id}/exec`, {}, 400],
      ["POST", `/sandbox/${id}/exec`, { command: "true", timeout: 0 }, 400],
      ["POST", `/sandbox/${id}/exec`, { command: "true", cwd: "relative" }, 400],
      ["POST", `/sandbox/${id}/exec`, { command: "true", env: { "BAD-NAME": "x" } }, 400],
      ["POST", "/sandbox/00000000-0000-4000-8000-000000000000/exec", { command: "true" }, 404],
      ["POST", "/sandbox", { network: "yes" }, 400],
      ["POST", "/sandbox", { limits: { memory_mb: 1 } }, 400],
      ["PATCH", `/sandbox/${id}`, {}, 400],
      ["DELETE", "/sandbox/00000000-0000-4000-8000-000000000000", undefined, 404],
    ];
    for (const [method, path, body, status] of cases) {
      const result = await call(server, method, path, body);
      expect(result.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
      expect(result.body.code).toBe(status);
    }
    expect((await call(server, "GET", "/sandbox/logs")).body.data.items).toHaveLength(1);
  });
});
