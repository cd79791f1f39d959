// `acontext mcp` through the MCP SDK's real client, against a real server process: the tool list,
// the disk tools, errors as tool results, stdout clean, --print-config, and start-up staying light.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { CLI, lineWatcher, runCli, useTempDirs } from "../helpers/cli.js";
import { connectMcp } from "../helpers/mcp.js";
import { call, startServerProcess, TEST_KEY, tempDataDir } from "../helpers/server.js";

const tempDir = useTempDirs();

async function remote() {
  const server = await startServerProcess();
  const home = await tempDir();
  return { server, home, env: { HOME: home, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY } };
}

/** Upstream's tools (reference/agent-tools.md): name, required arguments, and each argument's type. */
const UPSTREAM: Array<[string, string[], Record<string, unknown>]> = [
  ["bash_execution_sandbox", ["command"], { command: "string", timeout: ["number", "null"] }],
  [
    "text_editor_sandbox",
    ["command", "path"],
    {
      command: "string",
      path: "string",
      file_text: ["string", "null"],
      old_str: ["string", "null"],
      new_str: ["string", "null"],
      view_range: ["array", "null"],
    },
  ],
  ["export_file_sandbox", ["sandbox_path", "sandbox_filename"], { sandbox_path: "string", sandbox_filename: "string" }],
  ["write_file_disk", ["filename", "content"], { file_path: "string", filename: "string", content: "string" }],
  ["read_file_disk", ["filename"], { file_path: "string", filename: "string", line_offset: "number", line_limit: "number" }],
  ["replace_string_disk", ["filename", "old_string", "new_string"], { file_path: "string", filename: "string", old_string: "string", new_string: "string" }],
  ["list_disk", ["file_path"], { file_path: "string" }],
  ["grep_disk", ["query"], { query: "string", limit: "integer" }],
  ["glob_disk", ["query"], { query: "string", limit: "integer" }],
  ["download_file_disk", ["filename"], { file_path: "string", filename: "string", expire: "integer" }],
];

describe("acontext mcp", () => {
  it("lists upstream's agent tools, with their names, arguments and descriptions", async () => {
    const { home, env } = await remote();
    const mcp = await connectMcp({ env, cwd: home });
    expect(mcp.client.getServerVersion()?.name).toBe("acontext");
    expect(mcp.client.getInstructions()).toContain("/workspace");
    const { tools } = await mcp.client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(UPSTREAM.map(([name]) => name));
    for (const [name, required, types] of UPSTREAM) {
      const tool = tools.find((t) => t.name === name)!;
      expect(tool.inputSchema.type).toBe("object");
      expect(tool.inputSchema.required, name).toEqual(required);
      const properties = tool.inputSchema.properties as Record<string, { type: unknown; description: string }>;
      expect(Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, value.type])), name).toEqual(types);
      for (const property of Object.values(properties)) expect(property.description.length).toBeGreaterThan(10);
    }
    const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
    expect(byName.bash_execution_sandbox!.description).toBe(
      "The bash_execution_sandbox tool enables execution of bash scripts in a secure sandboxed container environment.",
    );
    expect(byName.text_editor_sandbox!.inputSchema.properties!.command).toMatchObject({ enum: ["view", "create", "str_replace"] });
    expect(byName.text_editor_sandbox!.inputSchema.properties!.view_range).toMatchObject({ items: { type: "integer" } });
    expect(byName.export_file_sandbox!.description).toContain("If the sandbox file is changed, the disk file won't be updated");
    expect(mcp.errors).toEqual([]);
  });

  it("disk tools: a disk made on first use, and upstream's answers", async () => {
    const { server, home, env } = await remote();
    const mcp = await connectMcp({ env, cwd: home });
    await mcp.client.listTools();
    expect((await call(server, "GET", "/disk")).body.data.items).toEqual([]);

    const written = await mcp.call("write_file_disk", { file_path: "notes", filename: "todo.md", content: "line one\nTODO two\nthree" });
    expect(written).toEqual({ text: "File 'todo.md' written successfully to '/notes/'", note: undefined, isError: false });
    const disks = (await call(server, "GET", "/disk")).body.data.items as Array<{ id: string }>;
    expect(disks).toHaveLength(1);
    await mcp.stderr.waitFor(new RegExp(`created disk ${disks[0]!.id}`));

    expect((await mcp.call("read_file_disk", { file_path: "/notes/", filename: "todo.md", line_offset: 1, line_limit: 1 })).text).toBe(
      "[/notes/todo.md - showing L1-2 of 3 lines]\nTODO two",
    );
    expect((await mcp.call("read_file_disk", { file_path: "/notes/", filename: "todo.md" })).text).toBe(
      "[/notes/todo.md - showing L0-3 of 3 lines]\nline one\nTODO two\nthree",
    );
    expect((await mcp.call("replace_string_disk", { file_path: "/notes", filename: "todo.md", old_string: "TODO", new_string: "DONE" })).text).toBe(
      "Found 1 old_string in /notes/todo.md and replaced it.",
    );
    expect((await mcp.call("read_file_disk", { file_path: "notes/", filename: "todo.md" })).text).toContain("DONE two");
    expect(await mcp.call("replace_string_disk", { file_path: "/notes/", filename: "todo.md", old_string: "nope", new_string: "x" })).toMatchObject({
      text: "String 'nope' not found in file 'todo.md'",
      isError: true,
    });

    expect((await mcp.call("list_disk", { file_path: "/" })).text).toBe("[Listing in /]\nDirectories:\nnotes/\nFiles:\n[NO FILE]");
    expect((await mcp.call("list_disk", { file_path: "notes" })).text).toBe("[Listing in /notes/]\nDirectories:\n[NO DIR]\nFiles:\ntodo.md");
    expect((await mcp.call("grep_disk", { query: "done" })).text).toBe("Found 1 file(s) matching 'done':\n/notes/todo.md");
    expect((await mcp.call("grep_disk", { query: "absent" })).text).toBe("No matches found for pattern 'absent'");
    expect((await mcp.call("glob_disk", { query: "**/*.md" })).text).toBe("Found 1 file(s) matching '**/*.md':\n/notes/todo.md");
    expect((await mcp.call("glob_disk", { query: "*.py" })).text).toBe("No files found matching pattern '*.py'");

    const download = await mcp.call("download_file_disk", { file_path: "/notes/", filename: "todo.md", expire: 60 });
    const [header, url] = download.text.split("\n");
    expect(header).toBe("Public download URL for '/notes/todo.md' (expires in 60s):");
    expect(await (await fetch(url!)).text()).toBe("line one\nDONE two\nthree");

    // A cut list of results says so.
    for (const name of ["a.txt", "b.txt", "c.txt"]) await mcp.call("write_file_disk", { filename: name, content: "needle" });
    const cut = await mcp.call("grep_disk", { query: "needle", limit: 2 });
    expect(cut.text.split("\n")).toHaveLength(4);
    expect(cut.text).toContain("[stopped at limit=2; there may be more");
    // An empty file may be written (upstream refuses one).
    expect((await mcp.call("write_file_disk", { filename: "empty.txt", content: "" })).isError).toBe(false);
    expect((await call(server, "GET", "/disk")).body.data.items).toHaveLength(1);
    expect(mcp.errors).toEqual([]);
  });

  it("bad arguments and failed operations are tool errors, and the server goes on", async () => {
    const { home, env } = await remote();
    const mcp = await connectMcp({ env, cwd: home });
    expect(await mcp.call("write_file_disk", { content: "x" })).toMatchObject({ text: "filename is required", isError: true });
    expect(await mcp.call("write_file_disk", { filename: 42, content: "x" })).toMatchObject({ text: "filename must be a string, got number", isError: true });
    expect(await mcp.call("read_file_disk", { filename: "a.txt", line_offset: "many" })).toMatchObject({ isError: true });
    expect(await mcp.call("read_file_disk", { filename: "missing.txt" })).toMatchObject({
      text: expect.stringMatching(/artifact not found.*404/),
      isError: true,
    });
    expect(await mcp.call("replace_string_disk", { filename: "a.txt", old_string: "", new_string: "x" })).toMatchObject({ isError: true });
    expect(await mcp.call("grep_disk", {})).toMatchObject({ text: "query is required", isError: true });
    expect(await mcp.call("grep_disk", { query: "(" })).toMatchObject({ isError: true });
    expect(await mcp.call("bash_execution_sandbox", {})).toMatchObject({ text: "command is required", isError: true });
    expect(await mcp.call("bash_execution_sandbox", { command: "true", timeout: -1 })).toMatchObject({ isError: true });
    expect(await mcp.call("text_editor_sandbox", { command: "view" })).toMatchObject({ text: "path is required", isError: true });
    expect(await mcp.call("text_editor_sandbox", { command: "delete", path: "/x" })).toMatchObject({
      text: "Unknown command: delete. Must be 'view', 'create', or 'str_replace'",
      isError: true,
    });
    expect(await mcp.call("text_editor_sandbox", { command: "create", path: "/x" })).toMatchObject({
      text: "file_text is required for create command",
      isError: true,
    });
    expect(await mcp.call("text_editor_sandbox", { command: "view", path: "/x", view_range: [3, 1] })).toMatchObject({ isError: true });
    expect(await mcp.call("export_file_sandbox", { sandbox_path: "/workspace/" })).toMatchObject({ text: "sandbox_filename is required", isError: true });
    await expect(mcp.client.callTool({ name: "no_such_tool", arguments: {} })).rejects.toThrow(/Unknown tool: no_such_tool/);
    // Still serving.
    expect((await mcp.call("write_file_disk", { filename: "ok.txt", content: "fine" })).isError).toBe(false);
  });

  it("--disk uses that disk and makes none", async () => {
    const { server, home, env } = await remote();
    const disk = (await call(server, "POST", "/disk")).body.data.id as string;
    const mcp = await connectMcp({ env, cwd: home, args: ["--disk", disk] });
    await mcp.call("write_file_disk", { filename: "here.txt", content: "on the given disk" });
    expect((await call(server, "GET", "/disk")).body.data.items).toHaveLength(1);
    expect((await call(server, "GET", `/disk/${disk}/artifact/ls?path=/`)).body.data.artifacts[0].filename).toBe("here.txt");
  });

  it("stdout carries JSON-RPC only; the log goes to stderr; the end of stdin ends the server", async () => {
    const { home, env } = await remote();
    const child = execa(process.execPath, [CLI, "mcp"], { cwd: home, env, extendEnv: false, reject: false, stdin: "pipe" });
    const requests = [
      { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
      { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "write_file_disk", arguments: { filename: "a.txt", content: "hello" } } },
      { jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "read_file_disk", arguments: { filename: "missing.txt" } } },
    ];
    const stdout = lineWatcher(child.stdout!);
    for (const request of requests) child.stdin!.write(`${JSON.stringify(request)}\n`);
    await Promise.all([stdout.waitFor(/"id":3\b/), stdout.waitFor(/"id":4\b/)]);
    child.stdin!.end();
    const result = await child;
    expect(result.exitCode, result.stderr).toBe(0);
    const messages = stdout.lines.map((line) => JSON.parse(line) as { jsonrpc: string; id: number; result: { isError?: boolean } });
    expect(messages.every((message) => message.jsonrpc === "2.0")).toBe(true);
    expect(messages.map((message) => message.id).sort()).toEqual([1, 2, 3, 4]);
    expect(messages.find((message) => message.id === 4)!.result.isError).toBe(true);
    expect(result.stderr).toMatch(/created disk [0-9a-f-]{36}/);
    expect(result.stderr).toContain("the client disconnected");
  });

  it("a target it cannot use is an error on stderr, before any protocol", async () => {
    const home = await tempDir();
    const result = await runCli(["mcp", "--base-url", "http://127.0.0.1:9"], { cwd: home, env: { HOME: home } });
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("no API key");
  });

  it("starts the embedded server on demand, as every command does, and again after it stopped", async () => {
    const home = await tempDir();
    const dataDir = await tempDataDir();
    const env = { HOME: home, ACONTEXT_DATA_DIR: dataDir, ACONTEXT_SERVER_PORT: "0" };
    try {
      const mcp = await connectMcp({ env, cwd: home });
      await mcp.stderr.waitFor(/started local server at http/);
      expect((await mcp.call("write_file_disk", { filename: "local.txt", content: "embedded" })).text).toBe("File 'local.txt' written successfully to '/'");
      expect((await mcp.call("read_file_disk", { filename: "local.txt" })).text).toContain("embedded");
      // Stopped under it: the next call starts it again, and the disk is still there.
      const stopped = await runCli(["server", "stop", "--data-dir", dataDir], { cwd: home, env });
      expect(stopped.exitCode, stopped.stderr).toBe(0);
      expect((await mcp.call("read_file_disk", { filename: "local.txt" })).text).toContain("embedded");
      expect(mcp.stderr.text()).toMatch(/reconnected to http/);
      expect(mcp.stderr.lines.filter((line) => line.includes("started local server"))).toHaveLength(2);
      await mcp.close();
    } finally {
      const stopped = await runCli(["server", "stop", "--data-dir", dataDir], { cwd: home, env });
      expect(stopped.exitCode, stopped.stderr).toBe(0);
    }
  });
});

describe("acontext mcp --print-config", () => {
  it("prints each client's snippet: node and the CLI by absolute path, a remote API's URL and key", async () => {
    const home = await tempDir();
    const env = { HOME: home, ACONTEXT_BASE_URL: "http://api.example.test:8029", ACONTEXT_API_KEY: "sk-ac-secret" };
    const claude = await runCli(["mcp", "--print-config", "claude", "--disk", "d-1"], { cwd: home, env });
    expect(claude.exitCode, claude.stderr).toBe(0);
    expect(JSON.parse(claude.stdout)).toEqual({
      mcpServers: {
        acontext: {
          command: process.execPath,
          args: [CLI, "mcp", "--disk", "d-1"],
          env: { ACONTEXT_BASE_URL: "http://api.example.test:8029/api/v1", ACONTEXT_API_KEY: "sk-ac-secret" },
        },
      },
    });
    expect(claude.stderr).toContain("claude_desktop_config.json");
    expect(claude.stderr).toContain("keep that file private");

    const cursor = JSON.parse((await runCli(["mcp", "--print-config", "cursor"], { cwd: home, env })).stdout);
    expect(Object.keys(cursor.mcpServers.acontext)).toEqual(["command", "args", "env"]);
    const vscode = JSON.parse((await runCli(["mcp", "--print-config", "vscode"], { cwd: home, env })).stdout);
    expect(vscode.servers.acontext).toMatchObject({ type: "stdio", command: process.execPath, args: [CLI, "mcp"] });

    // The local server: nothing to pass; the default client is Claude Desktop.
    const local = await runCli(["mcp", "--print-config"], { cwd: home, env: { HOME: home } });
    expect(JSON.parse(local.stdout)).toEqual({ mcpServers: { acontext: { command: process.execPath, args: [CLI, "mcp"] } } });
    expect((await runCli(["mcp", "--print-config", "emacs"], { cwd: home, env })).exitCode).toBe(2);
  });

  it("--help and --print-config load neither the MCP SDK nor node:http", async () => {
    const home = await tempDir();
    const list = join(home, "loaded.json");
    const preload = join(home, "record.cjs");
    await writeFile(
      preload,
      `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(list)}, JSON.stringify({ files: Object.keys(require.cache), builtins: process.moduleLoadList })));`,
    );
    for (const args of [
      ["mcp", "--help"],
      ["mcp", "--print-config", "vscode"],
    ]) {
      const result = await runCli(args, { cwd: home, env: { HOME: home, NODE_OPTIONS: `--require ${preload}` } });
      expect(result.exitCode, result.stderr).toBe(0);
      const loaded = JSON.parse(await readFile(list, "utf8")) as { files: string[]; builtins: string[] };
      expect(loaded.files.some((file) => file.endsWith("main.cjs"))).toBe(true); // the list is real
      expect(
        loaded.files.filter((file) => file.includes("modelcontextprotocol") || file.endsWith("mcp.cjs")),
        args.join(" "),
      ).toEqual([]);
      expect(loaded.builtins, args.join(" ")).not.toContain("NativeModule http");
    }
  });
});
