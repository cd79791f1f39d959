// bin/acontext.js compiles the CLI with a V8 code cache in $XDG_CACHE_HOME/acontext: made on the
// first run, used after, replaced when it does not fit, and never in the way when it cannot be
// written. The server bundle must share the main bundle's error classes through it.
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, runCli, useTempDirs } from "../helpers/cli.js";

const tempDir = useTempDirs();

describe("the CLI's code cache", () => {
  it("is made on the first run, kept, replaced when corrupt, and optional", async () => {
    const home = await tempDir();
    const env = { HOME: home, XDG_CACHE_HOME: join(home, "cache") };
    const version = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")).version;
    const cacheDir = join(home, "cache", "acontext");

    expect((await runCli(["--version"], { cwd: home, env })).stdout).toBe(version);
    const [made] = await readdir(cacheDir);
    expect(made).toMatch(/^main-v\d+\.\d+\.\d+-\d+-\d+\.v8$/);
    const first = await stat(join(cacheDir, made!));

    // Used, not rewritten; and errors thrown in the server bundle are still ours (one line, a hint).
    const status = await runCli(["server", "status", "--data-dir", join(home, "no-server")], { cwd: home, env });
    expect(status).toMatchObject({ exitCode: 1 });
    expect(status.stderr).toMatch(/^error: no acontext server is running for .*\nhint: /);
    expect((await stat(join(cacheDir, made!))).mtimeMs).toBe(first.mtimeMs);

    await writeFile(join(cacheDir, made!), "not a code cache");
    expect((await runCli(["--version"], { cwd: home, env })).stdout).toBe(version);
    expect((await readFile(join(cacheDir, made!))).toString()).not.toBe("not a code cache");

    // A cache folder that cannot be made: the CLI works all the same.
    await writeFile(join(home, "a-file"), "");
    const blocked = await runCli(["--version"], { cwd: home, env: { HOME: home, XDG_CACHE_HOME: join(home, "a-file") } });
    expect(blocked).toMatchObject({ exitCode: 0, stdout: version, stderr: "" });
  });
});
