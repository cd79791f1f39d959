// One real run of the bundled Cloudflare template: a real `npm install` from the registry, the real
// typecheck, the real `wrangler dev` (containers off: this machine has no Docker engine), then
// Ctrl-C. Slow (about a minute, ~260 MB of node_modules) but it is the product working for real.
// wrangler needs Node >= 22.12: on an older Node, `sandbox start` itself fetches one from the npm
// registry into an empty cache, as it does for a user on Node 20.
import { readdirSync, readFileSync } from "node:fs";
import { access } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { execa } from "execa";
import semver from "semver";
import { describe, expect, it } from "vitest";
import { cachedNode } from "../../src/scaffold/node-runtime.js";
import { portAnswers } from "../../src/shared/processes.js";
import { freePort, isAlive, lineWatcher, runCli, spawnCli, useTempDirs } from "../helpers/cli.js";
import { NODE_FOR_WRANGLER, needs } from "../helpers/requirements.js";

const tempDir = useTempDirs();

/** Live processes whose command line mentions `text` (here: the temp project folder). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text)) pids.push(Number(entry));
    } catch {
      // gone already
    }
  }
  return pids;
}

const real = needs("the bundled cloudflare template, for real", NODE_FOR_WRANGLER);
describe.skipIf(real.skip)(real.title, () => {
  it("installs, typechecks, serves with containers off, fails sandbox calls clearly, and stops on Ctrl-C", { timeout: 600_000 }, async () => {
    const cwd = await tempDir();
    const env = {
      WRANGLER_SEND_METRICS: "false",
      XDG_CONFIG_HOME: join(cwd, ".config"),
      XDG_CACHE_HOME: join(cwd, ".cache"),
    };

    // Scaffold and install with npm (on the fetched Node where this one is too old).
    const created = await runCli(["sandbox", "start", "--template", "cloudflare", "--pm", "npm", "--no-start", "--json"], { cwd, env });
    expect(created.exitCode, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: "cloudflare", created: true, installed: true, packageManager: "npm" });
    const project = join(cwd, "sandbox", "cloudflare");
    await access(join(project, "node_modules", "wrangler", "package.json"));
    const fetched = await cachedNode(">=22.12.0", { ...process.env, ...env });
    if (!semver.satisfies(process.version, ">=22.12.0")) expect(fetched, created.stderr).toBeDefined();

    // The template's typecheck passes: wrangler types, then tsc (on the Node that runs it).
    const path = [fetched?.binDir, process.env.PATH].filter(Boolean).join(delimiter);
    const typecheck = await execa("npm", ["run", "typecheck"], { cwd: project, env: { ...process.env, ...env, PATH: path }, reject: false, all: true });
    expect(typecheck.exitCode, typecheck.all).toBe(0);

    // Start it; wrangler serves the worker protocol.
    const port = await freePort();
    const cli = spawnCli(["sandbox", "start", "cloudflare", "--no-containers", "--port", String(port)], { cwd, env });
    const stdout = lineWatcher(cli.stdout!);
    const stderr = lineWatcher(cli.stderr!);
    await stdout.waitFor(/^ready: /).catch(async (err) => {
      await stderr.done;
      throw new Error(`${err.message}\n${stderr.text()}`);
    });
    expect(stdout.lines).toEqual([`ready: http://localhost:${port}`]);

    const index = await fetch(`http://localhost:${port}/`);
    expect(index.status).toBe(200);
    expect(await index.json()).toMatchObject({ service: "acontext-sandbox-cloudflare" });

    const create = await fetch(`http://localhost:${port}/sandbox/create`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sandbox_id: "e2e-1" }),
    });
    expect(create.status).toBe(500);
    expect(((await create.json()) as { error: string }).error).toContain("Containers have not been enabled");

    const badBody = await fetch(`http://localhost:${port}/sandbox/create`, { method: "POST", body: "not json" });
    expect(badBody.status).toBe(400);
    const unknown = await fetch(`http://localhost:${port}/nope`);
    expect(unknown.status).toBe(404);

    const tree = processesMentioning(project);
    expect(tree.length).toBeGreaterThan(0);

    cli.kill("SIGINT");
    expect((await cli).exitCode).toBe(130);
    for (const pid of tree) expect(await isAlive(pid), `pid ${pid} survived`).toBe(false);
    expect(processesMentioning(project).filter((pid) => pid !== process.pid)).toEqual([]);
    expect(await portAnswers(port, "127.0.0.1")).toBe(false);
  });
});
