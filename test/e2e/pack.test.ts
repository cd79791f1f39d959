// The package as npm would publish it: `npm pack` in a clean copy of the repository (no dist/, no
// node_modules of its own), so the prepack script has to build what the tarball ships; the tarball
// holds the CLI, its templates, the README and the LICENSE, and no sources or tests; installed
// from the tarball alone into an empty prefix, its `acontext` runs and talks to a real server.
// (test/e2e/install.test.ts installs the README's `npm install -g .`, a link to the clone, not a
// tarball.)
import { cp, readdir, readFile, symlink } from "node:fs/promises";
import { basename, join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { ROOT, useTempDirs } from "../helpers/cli.js";
import { startServerProcess, TEST_KEY } from "../helpers/server.js";

const tempDir = useTempDirs();

/** What .gitignore leaves out of a clone, wherever it stands, and git's own folder. */
const NOT_IN_A_CLONE = new Set([".git", "node_modules", "dist", "coverage"]);

/**
 * The repository as a fresh clone has it (working-tree contents, so uncommitted changes count),
 * with the repository's installed node_modules linked in, as `npm ci` would have put them there.
 * Packing a copy, not the repository itself, keeps the prepack build from replacing the dist/ that
 * the other test files are running at the same time.
 */
async function cleanCopy(): Promise<string> {
  const copy = await tempDir();
  await cp(ROOT, copy, {
    recursive: true,
    filter: (source) => {
      const name = basename(source);
      return !NOT_IN_A_CLONE.has(name) && !name.endsWith(".tgz");
    },
  });
  await symlink(join(ROOT, "node_modules"), join(copy, "node_modules"), "dir");
  return copy;
}

describe("npm pack", () => {
  it("packs a clean clone into a tarball that installs alone and runs against a real server", { timeout: 300_000 }, async () => {
    const clone = await cleanCopy();
    await expect(readdir(clone)).resolves.not.toContain("dist");

    const destination = await tempDir();
    const packed = await execa("npm", ["pack", "--json", "--pack-destination", destination], { cwd: clone, reject: false });
    expect(packed.exitCode, packed.stderr).toBe(0);
    // The build's own output (prepack) may come before npm's JSON.
    const [pack] = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = pack!.files.map((file) => file.path);
    expect(new Set(files.map((path) => path.split("/")[0]))).toEqual(new Set(["LICENSE", "README.md", "package.json", "bin", "dist", "templates"]));
    expect(files).toEqual(
      expect.arrayContaining([
        "bin/acontext.js",
        "bin/package.json",
        "dist/cli/main.cjs",
        "dist/cli/server.cjs",
        "dist/cli/scaffold.cjs",
        "dist/cli/mcp.cjs",
        "dist/cli/grep-worker.cjs",
        "templates/cloudflare/package.json",
        "templates/cloudflare/wrangler.jsonc",
      ]),
    );
    expect(files.filter((path) => /^(src|test|bench|scripts)\//.test(path))).toEqual([]);
    const tarball = join(destination, pack!.filename);
    expect(await readdir(destination)).toEqual([pack!.filename]);

    // --prefer-offline, not --offline: on a machine that only ran `npm ci` (as CI does), npm's cache
    // holds the dependencies' tarballs and abbreviated metadata, but installing a tarball asks for
    // their full metadata, which --offline then refuses (ENOTCACHED); what is cached is still used.
    // --ignore-scripts: the dependencies' install scripts (better-sqlite3's native build, for the
    // server this test does not run from the tarball) need a compiler or the network and minutes;
    // acontext itself has no install script.
    const prefix = await tempDir();
    const installed = await execa("npm", ["install", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", prefix, tarball], {
      cwd: prefix,
      reject: false,
      all: true,
    });
    expect(installed.exitCode, installed.all).toBe(0);

    const home = await tempDir();
    const server = await startServerProcess();
    const bin = join(prefix, "node_modules", ".bin", "acontext");
    const { XDG_CACHE_HOME: _cache, ACONTEXT_API_KEY: _key, ACONTEXT_BASE_URL: _url, ...inherited } = process.env;
    const env = { ...inherited, HOME: home, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY };
    const run = (args: string[]) => execa(bin, args, { cwd: home, env, extendEnv: false, reject: false });

    const { version } = JSON.parse(await readFile(join(clone, "package.json"), "utf8"));
    expect(await run(["--version"])).toMatchObject({ exitCode: 0, stdout: version });
    const help = await run(["--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("Usage: acontext");

    const created = await run(["disk", "create"]);
    expect(created.exitCode, created.stderr).toBe(0);
    const listed = await run(["disk", "ls", "--json"]);
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: created.stdout })]);
  });
});
