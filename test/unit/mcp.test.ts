// The pure parts of acontext mcp: argument reading, upstream's folder rule and cut, the bounded
// output capture, and the client config snippets.
import { describe, expect, it } from "vitest";
import { asFolder, optionalNumber, requiredString, ToolError, truncate } from "../../src/mcp/args.js";
import { configSnippet } from "../../src/mcp/config.js";
import { Capture } from "../../src/mcp/sandbox-tools.js";
import { DISK_TOOLS, SANDBOX_TOOLS } from "../../src/mcp/tools.js";

describe("mcp arguments", () => {
  it.each([
    [undefined, "/"],
    ["", "/"],
    ["notes", "/notes/"],
    ["/notes", "/notes/"],
    ["notes/", "/notes/"],
    ["/a/b/", "/a/b/"],
  ])("asFolder(%j) is %j", (input, expected) => {
    expect(asFolder(input)).toBe(expected);
  });

  it("a required string: missing, empty or mistyped is a ToolError in upstream's words", () => {
    expect(() => requiredString({}, "command")).toThrow(new ToolError("command is required"));
    expect(() => requiredString({ command: "" }, "command")).toThrow("command is required");
    expect(requiredString({ text: "" }, "text", { allowEmpty: true })).toBe("");
    expect(() => requiredString({ text: null }, "text", { allowEmpty: true, what: " for create command" })).toThrow("text is required for create command");
    expect(() => requiredString({ command: ["ls"] }, "command")).toThrow("command must be a string, got an array");
  });

  it("an optional number: null is absent, numeric strings are numbers, the rest an error", () => {
    expect(optionalNumber({ n: null }, "n")).toBeUndefined();
    expect(optionalNumber({ n: "12" }, "n")).toBe(12);
    expect(optionalNumber({ n: 2.7 }, "n", { integer: true })).toBe(2);
    expect(() => optionalNumber({ n: "many" }, "n")).toThrow('n must be a number, got "many"');
    expect(() => optionalNumber({ n: -1 }, "n", { min: 0 })).toThrow("n must be at least 0, got -1");
  });

  it("cuts at 20,000 characters and says so", () => {
    expect(truncate("short")).toBe("short");
    expect(truncate("x".repeat(20_000))).toBe("x".repeat(20_000));
    expect(truncate("x".repeat(20_001))).toBe(`${"x".repeat(20_000)}...[truncated]`);
    expect(truncate("tail lost", true)).toBe("tail lost...[truncated]");
  });

  it("Capture keeps the first bytes only and knows it cut", () => {
    const capture = new Capture(5);
    capture.add(Buffer.from("abc"));
    expect(capture.cut).toBe(false);
    capture.add(Buffer.from("defg"));
    capture.add(Buffer.from("h"));
    expect(capture.text()).toBe("abcde");
    expect(capture.cut).toBe(true);
  });
});

describe("mcp tools and config", () => {
  it("ten tools in upstream's pool order, every required argument a property", () => {
    expect([...SANDBOX_TOOLS, ...DISK_TOOLS].map((tool) => tool.name)).toEqual([
      "bash_execution_sandbox",
      "text_editor_sandbox",
      "export_file_sandbox",
      "write_file_disk",
      "read_file_disk",
      "replace_string_disk",
      "list_disk",
      "grep_disk",
      "glob_disk",
      "download_file_disk",
    ]);
    for (const tool of [...SANDBOX_TOOLS, ...DISK_TOOLS])
      for (const name of tool.inputSchema.required) expect(tool.inputSchema.properties).toHaveProperty(name);
  });

  it("snippets: mcpServers for Claude and Cursor, servers with a type for VS Code; env only when there is some", () => {
    const launch = { command: "/usr/bin/node", args: ["/opt/acontext/bin/acontext.js", "mcp"], env: {} };
    expect(configSnippet("claude", launch)).toEqual({ mcpServers: { acontext: { command: "/usr/bin/node", args: launch.args } } });
    expect(configSnippet("cursor", { ...launch, env: { ACONTEXT_API_KEY: "k" } })).toEqual({
      mcpServers: { acontext: { command: "/usr/bin/node", args: launch.args, env: { ACONTEXT_API_KEY: "k" } } },
    });
    expect(configSnippet("vscode", launch)).toEqual({ servers: { acontext: { type: "stdio", command: "/usr/bin/node", args: launch.args } } });
  });
});
