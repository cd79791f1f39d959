// The README's install from a clone, as written there (`npm install -g .` after the build), into an
// empty prefix: the `acontext` it puts on PATH runs, and its main job works.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { freePort, ROOT, useTempDirs } from "../helpers/cli.js";

const tempDir = useTempDirs();

describe("install from a clone", () => {
  it("the README's line installs a working acontext into an empty prefix", { timeout: 180_000 }, async () => {
    const readme = await readFile(join(ROOT, "README.md"), "utf8");
    expect(readme).toContain("npm install -g .");
    const prefix = await tempDir();
    const installed = await execa("npm", ["install", "-g", "--prefix", prefix, "."], { cwd: ROOT, reject: false, all: true });
    expect(installed.exitCode, installed.all).toBe(0);

    const home = await tempDir();
    const env = {
      ...process.env,
      HOME: home,
      ACONTEXT_DATA_DIR: join(home, "data"),
      ACONTEXT_SERVER_PORT: String(await freePort()),
      PATH: `${join(prefix, "bin")}:${process.env.PATH}`,
    };
    const run = (args: string[]) => execa("acontext", args, { cwd: home, env, reject: false });
    const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
    expect(await run(["--version"])).toMatchObject({ exitCode: 0, stdout: version });
    expect((await run(["--help"])).stdout).toContain("Usage: acontext");
    try {
      const disk = await run(["disk", "create"]);
      expect(disk.exitCode, disk.stderr).toBe(0);
      expect((await run(["disk", "ls"])).stdout).toBe(disk.stdout);
    } finally {
      await run(["server", "stop", "--force"]);
    }
  });
});
