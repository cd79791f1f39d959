// Remote templates through giget: a local git repository, a GitHub-shaped tarball server on
// loopback (the remote host is the one boundary we stand in for), and the offline failure.
import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { copyFixture, freePort, runCli, useTempDirs } from "../helpers/cli.js";

const tempDir = useTempDirs();
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

const gitEnv = {
  GIT_AUTHOR_NAME: "test",
  GIT_AUTHOR_EMAIL: "test@example.invalid",
  GIT_COMMITTER_NAME: "test",
  GIT_COMMITTER_EMAIL: "test@example.invalid",
};

/** A git repository holding the fixture project in `worker/` and a README at the top. */
async function gitRepo(): Promise<string> {
  const repo = join(await tempDir(), "templates-repo");
  await copyFixture("dev-project", join(repo, "worker"));
  await writeFile(join(repo, "README.md"), "not a project at the top\n");
  await execa("git", ["init", "-q", "-b", "main"], { cwd: repo });
  await execa("git", ["add", "-A"], { cwd: repo });
  await execa("git", ["commit", "-qm", "template"], { cwd: repo, env: gitEnv });
  return repo;
}

/** Serves `tarball` at GitHub's tarball route, the way giget asks for it. */
async function tarballServer(tarball: string): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.url !== "/repos/acme/templates/tarball/v1") {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader("content-type", "application/x-gzip");
    if (req.method === "HEAD") res.end();
    else createReadStream(tarball).pipe(res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests };
}

describe("remote templates", () => {
  it("git: a local repository with a ref and a subfolder", async () => {
    const repo = await gitRepo();
    const cwd = await tempDir();
    const result = await runCli(["sandbox", "start", "--template", `git:${repo}#main:worker`, "--no-install", "--no-start", "--json"], {
      cwd,
      env: { XDG_CACHE_HOME: join(cwd, ".cache") },
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ name: "worker", path: "sandbox/worker", created: true });
    expect((await readdir(join(cwd, "sandbox", "worker"))).sort()).toEqual(["dev.js", "package.json", "wrangler.jsonc"]);
    expect(JSON.parse(await readFile(join(cwd, "sandbox", "worker", "package.json"), "utf8")).name).toBe("worker");
  });

  it("refuses a template that is not a sandbox project, and creates nothing", async () => {
    const repo = await gitRepo();
    const cwd = await tempDir();
    const result = await runCli(["sandbox", "start", "--template", `git:${repo}#main`, "--name", "x", "--no-install", "--no-start"], {
      cwd,
      env: { XDG_CACHE_HOME: join(cwd, ".cache") },
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("is not a sandbox project");
    expect(result.stderr).toContain("hint:");
    await expect(readdir(join(cwd, "sandbox", "x"))).rejects.toThrow();
  });

  it("github: a tarball from a GitHub-shaped server, subfolder and ref", async () => {
    const work = await tempDir();
    const top = join(work, "acme-templates-0123abc");
    await copyFixture("dev-project", join(top, "examples", "edge-worker"));
    await mkdir(join(top, "other"));
    const tarball = join(work, "t.tar.gz");
    await execa("tar", ["czf", tarball, "-C", work, "acme-templates-0123abc"]);
    const server = await tarballServer(tarball);

    const cwd = await tempDir();
    const result = await runCli(["sandbox", "start", "--template", "github:acme/templates/examples/edge-worker#v1", "--no-install", "--no-start", "--json"], {
      cwd,
      env: { GIGET_GITHUB_URL: server.url, XDG_CACHE_HOME: join(cwd, ".cache") },
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ name: "edge-worker", path: "sandbox/edge-worker" });
    expect((await readdir(join(cwd, "sandbox", "edge-worker"))).sort()).toEqual(["dev.js", "package.json", "wrangler.jsonc"]);
    expect(server.requests).toContain("GET /repos/acme/templates/tarball/v1");
  });

  it("offline: one clear line with the cause and a hint, non-zero exit, nothing created", async () => {
    const cwd = await tempDir();
    const closedPort = await freePort();
    const result = await runCli(["sandbox", "start", "--template", "github:acme/templates/worker#main", "--no-install", "--no-start"], {
      cwd,
      env: { GIGET_GITHUB_URL: `http://127.0.0.1:${closedPort}`, XDG_CACHE_HOME: join(cwd, ".cache") },
    });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/error: could not fetch template github:acme\/templates\/worker#main: .*fetch failed.*ECONNREFUSED/);
    expect(result.stderr).toContain("hint: check the template address and your network");
    await expect(readdir(join(cwd, "sandbox", "worker"))).rejects.toThrow();
  });
});
