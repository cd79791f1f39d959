// `acontext mcp`'s sandbox tools through the MCP SDK's real client, against a real server process
// with real local sandboxes: the sandbox made on the first call and killed at disconnect or on a
// signal, bash / editor / export answers, a sandbox killed behind the session's back replaced with
// a note, a given sandbox kept alive and left running, and an upstream-shaped API (no extensions).
import { existsSync } from "node:fs";
import { execa } from "execa";
import { describe, expect, it, vi } from "vitest";
import { CLI, lineWatcher, runCli, useTempDirs } from "../helpers/cli.js";
import { connectMcp } from "../helpers/mcp.js";
import { LOCAL_SANDBOXES, needs } from "../helpers/requirements.js";
import { call, type ServerProcess, startServerProcess, TEST_KEY, tempDataDir } from "../helpers/server.js";
import { upstreamProxy } from "../helpers/upstream-proxy.js";

const tempDir = useTempDirs();
const PYTHON = { ok: existsSync("/usr/bin/python3"), reason: "no /usr/bin/python3 for sandboxes (str_replace on an upstream API runs python3 in the sandbox)" };

async function sandboxes(server: ServerProcess): Promise<Array<{ id: string; status?: string }>> {
  const items = (await call(server, "GET", "/sandbox/logs?limit=200")).body.data.items as Array<{ id: string }>;
  return Promise.all(items.map(async ({ id }) => ({ id, status: (await call(server, "GET", `/sandbox/${id}`)).body.data?.sandbox_status })));
}

const t = needs("acontext mcp: sandbox tools", LOCAL_SANDBOXES);
describe.skipIf(t.skip)(t.title, () => {
  it("makes the sandbox on the first call; bash, editor and export answer as upstream; disconnecting kills it", async () => {
    const server = await startServerProcess();
    const home = await tempDir();
    const mcp = await connectMcp({ env: { HOME: home, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY }, cwd: home });
    await mcp.client.listTools();
    expect(await sandboxes(server)).toEqual([]);

    expect(await mcp.json("bash_execution_sandbox", { command: "echo hi; echo oops >&2; exit 3" })).toEqual({ stdout: "hi\n", stderr: "oops\n", exit_code: 3 });
    const [sandbox] = await sandboxes(server);
    expect(sandbox).toEqual({ id: expect.any(String), status: "running" });
    await mcp.stderr.waitFor(new RegExp(`created sandbox ${sandbox!.id}`));
    expect((await mcp.json("bash_execution_sandbox", { command: "pwd" })).stdout).toBe("/workspace\n");

    // Each stream is cut at 20,000 characters, and says so.
    const long = await mcp.json("bash_execution_sandbox", { command: "head -c 300000 /dev/zero | tr '\\0' a; echo done >&2" });
    expect(long.stdout).toBe(`${"a".repeat(20_000)}...[truncated]`);
    expect(long.stderr).toBe("done\n");
    // Our API stops a command at its timeout: exit code 124.
    const slow = await mcp.json("bash_execution_sandbox", { command: "sleep 30", timeout: 1 });
    expect(slow.exit_code).toBe(124);

    const file = "/workspace/app/hello.txt";
    expect(await mcp.json("text_editor_sandbox", { command: "create", path: file, file_text: "one\ntwo\ntwo\n" })).toEqual({
      is_file_update: false,
      message: `File created: ${file}`,
    });
    expect(await mcp.json("text_editor_sandbox", { command: "create", path: file, file_text: "one\ntwo\ntwo\n" })).toEqual({
      is_file_update: true,
      message: `File updated: ${file}`,
    });
    expect(await mcp.json("text_editor_sandbox", { command: "view", path: file })).toEqual({
      file_type: "text",
      content: "     1\tone\n     2\ttwo\n     3\ttwo\n",
      numLines: 3,
      startLine: 1,
      totalLines: 3,
    });
    expect(await mcp.json("text_editor_sandbox", { command: "view", path: file, view_range: [2, -1] })).toMatchObject({
      content: "     2\ttwo\n     3\ttwo\n",
      startLine: 2,
    });
    const multiple = await mcp.call("text_editor_sandbox", { command: "str_replace", path: file, old_str: "two", new_str: "2" });
    expect(multiple.isError).toBe(true);
    expect(JSON.parse(multiple.text)).toEqual({ error: "Multiple occurrences (2) of the string found. Please provide more context to make the match unique." });
    const missing = await mcp.call("text_editor_sandbox", { command: "str_replace", path: file, old_str: "three", new_str: "3" });
    expect(JSON.parse(missing.text)).toEqual({ error: "String not found in file: three..." });
    expect(await mcp.json("text_editor_sandbox", { command: "str_replace", path: "app/hello.txt", old_str: "two\ntwo", new_str: "2\n'two'" })).toEqual({
      msg: "Successfully replaced text at exactly one location.",
    });
    expect((await mcp.json("bash_execution_sandbox", { command: "cat app/hello.txt" })).stdout).toBe("one\n2\n'two'\n");
    // Byte-exact: CRLF and the file's mode stay; a file that is not UTF-8 is not rewritten.
    await mcp.json("bash_execution_sandbox", { command: "printf 'echo a\\r\\n' > run.sh && chmod 755 run.sh && printf '\\377x' > blob" });
    await mcp.json("text_editor_sandbox", { command: "str_replace", path: "run.sh", old_str: "echo a", new_str: "echo b" });
    expect((await mcp.json("bash_execution_sandbox", { command: "stat -c %a run.sh; od -c run.sh | head -1" })).stdout).toMatch(
      /^755\n.*e +c +h +o +b +\\r +\\n/,
    );
    const binary = await mcp.call("text_editor_sandbox", { command: "str_replace", path: "blob", old_str: "x", new_str: "y" });
    expect(JSON.parse(binary.text)).toEqual({ error: "Not a UTF-8 text file: blob" });
    const absent = await mcp.call("text_editor_sandbox", { command: "view", path: "/workspace/nope.txt" });
    expect(absent.isError).toBe(true);
    expect(JSON.parse(absent.text)).toMatchObject({ error: "File not found: /workspace/nope.txt" });
    const folder = await mcp.call("text_editor_sandbox", { command: "create", path: "/workspace/app", file_text: "x" });
    expect(JSON.parse(folder.text)).toMatchObject({ error: "Failed to create file: /workspace/app" });

    const exported = await mcp.json("export_file_sandbox", { sandbox_path: "/workspace/app", sandbox_filename: "hello.txt" });
    expect(exported).toMatchObject({ message: "successfully exported file to disk", disk_path: "/artifacts/hello.txt" });
    expect(await (await fetch(exported.public_url as string)).text()).toBe("one\n2\n'two'\n");
    const disks = (await call(server, "GET", "/disk")).body.data.items as Array<{ id: string }>;
    expect(disks.map((disk) => disk.id)).toEqual([exported.disk_id]);
    // The disk tools see the same disk.
    expect((await mcp.call("list_disk", { file_path: "/artifacts/" })).text).toContain("hello.txt");
    expect((await mcp.call("export_file_sandbox", { sandbox_path: "/workspace/", sandbox_filename: "nothing.txt" })).isError).toBe(true);

    expect(await sandboxes(server)).toEqual([{ id: sandbox!.id, status: "running" }]);
    await mcp.close();
    expect(await sandboxes(server)).toEqual([{ id: sandbox!.id, status: "killed" }]);
    expect(mcp.stderr.text()).toContain(`killed sandbox ${sandbox!.id}`);
    // The disk stays: exported files outlive the session.
    expect((await call(server, "GET", "/disk")).body.data.items).toHaveLength(1);
    expect(mcp.errors).toEqual([]);
  });

  it("replaces a sandbox killed behind its back, and says so in the answer", async () => {
    const server = await startServerProcess();
    const home = await tempDir();
    const mcp = await connectMcp({ env: { HOME: home, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY }, cwd: home });
    await mcp.json("bash_execution_sandbox", { command: "echo one > /workspace/f" });
    const [first] = await sandboxes(server);
    expect((await call(server, "DELETE", `/sandbox/${first!.id}`)).status).toBe(200);

    const answer = await mcp.call("bash_execution_sandbox", { command: "cat /workspace/f; echo two" });
    expect(answer.isError).toBe(false);
    expect(JSON.parse(answer.text)).toMatchObject({ stdout: "two\n", stderr: expect.stringContaining("No such file") });
    const now = await sandboxes(server);
    const second = now.find((sandbox) => sandbox.id !== first!.id)!;
    expect(second.status).toBe("running");
    expect(answer.note).toContain(`the sandbox ${first!.id} was gone`);
    expect(answer.note).toContain(`new sandbox ${second.id}`);
    // Later calls go on in the new one, without a note.
    expect(await mcp.call("bash_execution_sandbox", { command: "echo three" })).toMatchObject({ note: undefined, isError: false });
    await mcp.close();
    expect((await sandboxes(server)).map((sandbox) => sandbox.status)).toEqual(["killed", "killed"]);
  });

  it("--sandbox: uses that sandbox, keeps it alive, and leaves it running at the end", async () => {
    const server = await startServerProcess();
    const home = await tempDir();
    const created = (await call(server, "POST", "/sandbox", { keepalive_seconds: 15 })).body.data as { sandbox_id: string; sandbox_expires_at: string };
    const id = created.sandbox_id;
    const mcp = await connectMcp({ env: { HOME: home, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY }, cwd: home, args: ["--sandbox", id] });
    expect((await mcp.json("bash_execution_sandbox", { command: "echo given" })).stdout).toBe("given\n");
    const after = Date.parse((await call(server, "GET", `/sandbox/${id}`)).body.data.sandbox_expires_at);
    // With no call at all, the keepalive pushes the expiry out (a beat every third of the keepalive).
    await vi.waitFor(async () => expect(Date.parse((await call(server, "GET", `/sandbox/${id}`)).body.data.sandbox_expires_at)).toBeGreaterThan(after), {
      timeout: 30_000,
      interval: 250,
    });
    await mcp.close();
    expect(await sandboxes(server)).toEqual([{ id, status: "running" }]);
    expect((await call(server, "DELETE", `/sandbox/${id}`)).status).toBe(200);
  });

  it("SIGTERM kills the sandbox and exits 143; stdout holds JSON-RPC only", async () => {
    const server = await startServerProcess();
    const home = await tempDir();
    const env = { HOME: home, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY };
    const child = execa(process.execPath, [CLI, "mcp", "--keepalive", "5m"], { cwd: home, env, extendEnv: false, reject: false, stdin: "pipe" });
    const stdout = lineWatcher(child.stdout!);
    for (const request of [
      { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "bash_execution_sandbox", arguments: { command: "echo in-sandbox" } } },
    ])
      child.stdin!.write(`${JSON.stringify(request)}\n`);
    await stdout.waitFor(/"id":2\b/);
    const [sandbox] = await sandboxes(server);
    expect((await call(server, "GET", `/sandbox/${sandbox!.id}`)).body.data.keepalive_seconds).toBe(300);
    child.kill("SIGTERM");
    const result = await child;
    expect(result.exitCode, result.stderr).toBe(143);
    expect(await sandboxes(server)).toEqual([{ id: sandbox!.id, status: "killed" }]);
    const messages = stdout.lines.map((line) => JSON.parse(line) as { jsonrpc: string; id: number; result: { content: Array<{ text: string }> } });
    expect(messages.map((message) => [message.jsonrpc, message.id])).toEqual([
      ["2.0", 1],
      ["2.0", 2],
    ]);
    expect(JSON.parse(messages[1]!.result.content[0]!.text)).toEqual({ stdout: "in-sandbox\n", stderr: "", exit_code: 0 });
    expect(result.stderr).toContain("stopping (signal)");
  });

  it("the local server stopped under it: started again, and the sandbox replaced with a note", async () => {
    const home = await tempDir();
    const dataDir = await tempDataDir();
    const env = { HOME: home, ACONTEXT_DATA_DIR: dataDir, ACONTEXT_SERVER_PORT: "0" };
    try {
      const mcp = await connectMcp({ env, cwd: home });
      expect((await mcp.json("bash_execution_sandbox", { command: "echo first" })).stdout).toBe("first\n");
      const first = (await mcp.stderr.waitFor(/^created sandbox /)).split(" ")[2];
      expect((await runCli(["server", "stop", "--force", "--data-dir", dataDir], { cwd: home, env })).exitCode).toBe(0);
      const again = await mcp.call("bash_execution_sandbox", { command: "echo second" });
      expect(JSON.parse(again.text).stdout).toBe("second\n");
      expect(again.note).toContain(`the sandbox ${first} was gone`);
      await mcp.close();
    } finally {
      expect((await runCli(["server", "stop", "--force", "--data-dir", dataDir], { cwd: home, env })).exitCode).toBe(0);
    }
  });

  const upstream = needs("against an upstream-shaped API: the editor through commands, export, replacement", PYTHON);
  it.skipIf(upstream.skip)(upstream.title, async () => {
    const server = await startServerProcess();
    const proxy = await upstreamProxy(server.url);
    const home = await tempDir();
    const mcp = await connectMcp({ env: { HOME: home, ACONTEXT_BASE_URL: proxy.url, ACONTEXT_API_KEY: TEST_KEY }, cwd: home });
    const file = "/workspace/notes/a.txt";
    expect(await mcp.json("text_editor_sandbox", { command: "create", path: file, file_text: 'it\'s "quoted"\n$HOME\nend' })).toEqual({
      is_file_update: false,
      message: `File created: ${file}`,
    });
    expect(await mcp.json("text_editor_sandbox", { command: "view", path: file })).toEqual({
      file_type: "text",
      content: '     1\tit\'s "quoted"\n     2\t$HOME\n     3\tend\n',
      numLines: 3,
      startLine: 1,
      totalLines: 3,
    });
    expect(await mcp.json("text_editor_sandbox", { command: "str_replace", path: file, old_str: "$HOME", new_str: "~" })).toEqual({
      msg: "Successfully replaced text at exactly one location.",
    });
    expect((await mcp.json("text_editor_sandbox", { command: "view", path: file, view_range: [2, 3] })).content).toBe("     2\t~\n     3\tend\n");
    const absent = await mcp.call("text_editor_sandbox", { command: "str_replace", path: "/workspace/none", old_str: "a", new_str: "b" });
    expect(JSON.parse(absent.text)).toMatchObject({ error: "File not found: /workspace/none" });
    expect((await mcp.json("export_file_sandbox", { sandbox_path: "workspace/notes", sandbox_filename: "a.txt" })).disk_path).toBe("/artifacts/a.txt");
    // No exec timeout upstream: the wait stops here, and the answer says what that means.
    const slow = await mcp.call("bash_execution_sandbox", { command: "sleep 30", timeout: 1 });
    expect(slow).toMatchObject({ isError: true, text: expect.stringContaining("did not finish within 1 s") });
    // Nothing asked for what upstream lacks: sandbox info and keepalive are ours.
    expect(proxy.requests.filter((request) => /^(GET|PATCH) \/api\/v1\/sandbox\/[^/]+$/.test(request))).toEqual([]);
    expect(proxy.requests.filter((request) => request.includes("/file"))).toEqual([]);

    const [first] = await sandboxes(server);
    await call(server, "DELETE", `/sandbox/${first!.id}`);
    const replaced = await mcp.call("bash_execution_sandbox", { command: "echo again" });
    expect(JSON.parse(replaced.text).stdout).toBe("again\n");
    expect(replaced.note).toContain(`the sandbox ${first!.id} was gone`);
    await mcp.close();
    expect((await sandboxes(server)).map((sandbox) => sandbox.status)).toEqual(["killed", "killed"]);
  });
});
