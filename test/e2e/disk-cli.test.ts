// `acontext disk …`, `login`, `whoami` and `completion` as a user runs them: the built CLI against
// the real embedded server (a child process on a random port, temp data dir).
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { CLI, freePort, runCli, useTempDirs } from "../helpers/cli.js";
import { type ServerProcess, startServerProcess, TEST_KEY } from "../helpers/server.js";

const tempDir = useTempDirs();
const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Runs the CLI against `server` through the environment, with a clean HOME. */
async function against(server: ServerProcess) {
  const home = await tempDir();
  const env = { HOME: home, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY };
  const run = (args: string[], options: { input?: string; cwd?: string } = {}) => runCli(args, { cwd: options.cwd ?? home, env, input: options.input });
  const created = await run(["disk", "create"]);
  expect(created.exitCode, created.stderr).toBe(0);
  return { home, env, run, diskId: created.stdout.trim() };
}

describe("disk commands", () => {
  it("create prints the id alone; ls lists it (plain and --json)", async () => {
    const server = await startServerProcess();
    const { run, diskId } = await against(server);
    expect(diskId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await run(["disk", "ls"])).stdout.trim()).toBe(diskId);
    const json = JSON.parse((await run(["disk", "ls", "--json"])).stdout);
    expect(json).toEqual([expect.objectContaining({ id: diskId })]);
    const created = JSON.parse((await run(["disk", "create", "--json"])).stdout);
    expect(created).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), project_id: expect.any(String) });
  });

  it("copies local → disk → local byte for byte, files and trees, and refuses to overwrite without --force", async () => {
    const server = await startServerProcess();
    const { run, home, diskId } = await against(server);
    const binary = randomBytes(3 * 1024 * 1024 + 7);
    await writeFile(join(home, "data.bin"), binary);
    await mkdir(join(home, "tree", "sub"), { recursive: true });
    await writeFile(join(home, "tree", "a.txt"), "alpha\n");
    await writeFile(join(home, "tree", "sub", "b.py"), "print('b')\n");

    const up = await run(["disk", "cp", "data.bin", `disk://${diskId}/in/`, "--json"]);
    expect(up.exitCode, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout)).toEqual({ source: "data.bin", destination: `disk://${diskId}/in/`, files: 1, bytes: binary.length });
    const tree = await run(["disk", "cp", "-r", "tree", `disk://${diskId}/code/`]);
    expect(tree.exitCode, tree.stderr).toBe(0);
    expect(tree.stderr).toContain("copied 2 files");

    const listing = JSON.parse((await run(["disk", "ls", "-R", `disk://${diskId}/`, "--json"])).stdout);
    expect(listing.map((e: { path: string }) => e.path)).toEqual([
      "/code/",
      "/code/tree/",
      "/code/tree/a.txt",
      "/code/tree/sub/",
      "/code/tree/sub/b.py",
      "/in/",
      "/in/data.bin",
    ]);
    expect(listing.find((e: { path: string }) => e.path === "/in/data.bin")).toMatchObject({ type: "file", size: binary.length });

    const down = await run(["disk", "cp", `disk://${diskId}/in/data.bin`, "back.bin"]);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(sha(await readFile(join(home, "back.bin")))).toBe(sha(binary));
    const again = await run(["disk", "cp", `disk://${diskId}/in/data.bin`, "back.bin"]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain("back.bin already exists");
    expect(again.stderr).toContain("hint: overwrite it with --force");
    await writeFile(join(home, "back.bin"), "changed");
    expect((await run(["disk", "cp", "-f", `disk://${diskId}/in/data.bin`, "back.bin"])).exitCode).toBe(0);
    expect(sha(await readFile(join(home, "back.bin")))).toBe(sha(binary));
    expect((await readdir(home)).filter((f) => f.includes(".part"))).toEqual([]);

    const restored = await run(["disk", "cp", "-r", `disk://${diskId}/code/`, "restored"]);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(await readFile(join(home, "restored", "tree", "sub", "b.py"), "utf8")).toBe("print('b')\n");
    expect(await readFile(join(home, "restored", "tree", "a.txt"), "utf8")).toBe("alpha\n");
  });

  it("pipes multi-megabyte stdin to a disk and a disk file to stdout", async () => {
    const server = await startServerProcess();
    const { env, home, diskId } = await against(server);
    const text = `${Array.from({ length: 200_000 }, (_, i) => `line ${i}`).join("\n")}\n`;
    const up = await execa(process.execPath, [CLI, "disk", "cp", "-", `disk://${diskId}/piped.txt`], {
      cwd: home,
      env: { ...process.env, ...env },
      input: text,
      reject: false,
    });
    expect(up.exitCode, up.stderr).toBe(0);
    const down = await execa(process.execPath, [CLI, "disk", "cp", `disk://${diskId}/piped.txt`, "-"], {
      cwd: home,
      env: { ...process.env, ...env },
      reject: false,
      stripFinalNewline: false,
    });
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stdout.length).toBe(text.length);
    expect(down.stdout).toBe(text);
  });

  it("finds files by glob and grep, and deletes files, directories and disks", async () => {
    const server = await startServerProcess();
    const { run, home, diskId } = await against(server);
    await writeFile(join(home, "a.py"), "x = 1\n# TODO: fix\n");
    await writeFile(join(home, "b.md"), "notes\n");
    await run(["disk", "cp", "a.py", "b.md", `disk://${diskId}/src/`]);
    expect((await run(["disk", "glob", `disk://${diskId}`, "*.py"])).stdout.trim()).toBe("/src/a.py");
    expect((await run(["disk", "grep", `disk://${diskId}`, "^# todo"])).stdout.trim()).toBe("/src/a.py");
    const json = JSON.parse((await run(["disk", "grep", `disk://${diskId}`, "notes", "--json"])).stdout);
    expect(json).toEqual([expect.objectContaining({ path: "/src/", filename: "b.md" })]);

    expect((await run(["disk", "rm", `disk://${diskId}/src/a.py`])).exitCode).toBe(0);
    // A directory without -r is a usage error, as for cp (exit 2), said once, before anything goes.
    for (const path of [`disk://${diskId}/src/`, `disk://${diskId}/src`]) {
      const dir = await run(["disk", "rm", path, `disk://${diskId}/src/b.md`]);
      expect(dir).toMatchObject({ exitCode: 2, stderr: `error: ${path} is a directory\nhint: delete it and everything under it with -r` });
    }
    expect((await run(["disk", "rm", "-r", `disk://${diskId}/src/`])).stderr).toContain("(1 file)");
    expect((await run(["disk", "ls", `disk://${diskId}/`])).stdout).toBe("");

    const noConfirm = await run(["disk", "rm", diskId]);
    expect(noConfirm.exitCode).toBe(2);
    expect(noConfirm.stderr).toContain("hint: pass -y");
    expect((await run(["disk", "rm", "-y", diskId])).stderr).toContain(`deleted disk ${diskId}`);
    expect((await run(["disk", "ls"])).stdout).toBe("");
  });

  it.each<[string, (d: string) => string[], number, string, string?]>([
    ["a missing source", (d) => ["disk", "cp", "nope.txt", `disk://${d}/`], 1, "nope.txt: no such file or directory"],
    ["a missing disk file", (d) => ["disk", "cp", `disk://${d}/none.txt`, "x"], 1, "no such file or directory"],
    ["a directory without -r", (d) => ["disk", "cp", ".", `disk://${d}/`], 2, "is a directory", "copy directories with -r"],
    ["an unknown disk", () => ["disk", "cp", "a.txt", "disk://00000000-0000-4000-8000-000000000000/x.txt"], 1, "disk not found", "acontext disk ls"],
    ["an unknown scheme", () => ["disk", "cp", "a.txt", "s3://bucket/x"], 2, "unknown scheme"],
    ["one path only", () => ["disk", "cp", "a.txt"], 2, "needs a source and a destination"],
    ["a non-disk glob target", () => ["disk", "glob", "./here", "*"], 2, "is not a disk"],
    ["deleting an unknown disk", () => ["disk", "rm", "-y", "00000000-0000-4000-8000-000000000000"], 1, "disk not found"],
  ])("%s: a clear message and the right exit code", async (_name, args, code, message, hint) => {
    const server = await startServerProcess();
    const { run, home, diskId } = await against(server);
    await writeFile(join(home, "a.txt"), "a");
    const result = await run(args(diskId));
    expect(result.exitCode).toBe(code);
    expect(result.stderr).toContain(message);
    if (hint) expect(result.stderr).toContain(hint);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("a server that dies mid-upload: a clear error, non-zero exit", async () => {
    const server = await startServerProcess();
    const { env, home, diskId } = await against(server);
    const cli = execa(process.execPath, [CLI, "disk", "cp", "-", `disk://${diskId}/big.bin`], {
      cwd: home,
      env: { ...process.env, ...env },
      reject: false,
      stdin: "pipe",
    });
    cli.stdin!.write(randomBytes(1024 * 1024));
    while ((await readdir(join(server.dataDir, "tmp"))).length === 0) await new Promise((r) => setTimeout(r, 20));
    await server.kill("SIGKILL");
    cli.stdin!.end(randomBytes(1024));
    const result = await cli;
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/error: cannot reach .*ECONNRESET|EPIPE|ECONNREFUSED/);
    expect(result.stderr).toContain("hint: check the base URL");
  });
});

describe("targets, login, whoami", () => {
  it("a wrong key is a 401 with a hint; a URL without a key is a usage error; a closed port says check the base URL", async () => {
    const server = await startServerProcess();
    const home = await tempDir();
    const wrong = await runCli(["disk", "ls"], { cwd: home, env: { HOME: home, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: "sk-ac-wrong" } });
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toContain("Unauthorized (HTTP 401)");
    expect(wrong.stderr).toContain("hint: check the API key (from ACONTEXT_API_KEY)");
    const noKey = await runCli(["disk", "ls", "--base-url", server.url], { cwd: home, env: { HOME: home } });
    expect(noKey.exitCode).toBe(2);
    expect(noKey.stderr).toContain(`no API key for ${server.url}/api/v1`);
    const closed = await runCli(["disk", "ls", "--base-url", `http://127.0.0.1:${await freePort()}`, "--api-key", "k"], { cwd: home, env: { HOME: home } });
    expect(closed.exitCode).toBe(1);
    expect(closed.stderr).toContain("ECONNREFUSED");
    expect(closed.stderr).toContain("hint: check the base URL");
    expect(closed.stderr).toContain("from --base-url");
  });

  it("login checks and saves the key (0600); whoami shows where the target comes from; logout forgets it", async () => {
    const server = await startServerProcess();
    const home = await tempDir();
    const env = { HOME: home, ACONTEXT_DATA_DIR: join(home, "data") };
    const bad = await runCli(["login", "--api-key", "sk-ac-wrong", "--base-url", server.url], { cwd: home, env });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain("not saved");
    const login = await runCli(["login", "--api-key", TEST_KEY, "--base-url", server.url], { cwd: home, env });
    expect(login.exitCode, login.stderr).toBe(0);
    const config = join(home, ".acontext", "config.json");
    expect(JSON.parse(await readFile(config, "utf8"))).toEqual({ base_url: `${server.url}/api/v1`, api_key: TEST_KEY });
    expect((await stat(config)).mode & 0o777).toBe(0o600);

    const who = JSON.parse((await runCli(["whoami", "--json"], { cwd: home, env })).stdout);
    expect(who).toMatchObject({ target: "remote", base_url: `${server.url}/api/v1`, base_url_from: "profile", api_key_from: "profile" });
    expect(who.api_key).not.toContain("test-key");
    const created = await runCli(["disk", "create"], { cwd: home, env });
    expect(created.exitCode, created.stderr).toBe(0);
    const flagWins = JSON.parse((await runCli(["whoami", "--json", "--base-url", "http://other:1"], { cwd: home, env })).stdout);
    expect(flagWins).toMatchObject({ base_url: "http://other:1/api/v1", base_url_from: "flag", api_key_from: "profile" });

    expect((await runCli(["logout"], { cwd: home, env })).stderr).toContain("logged out");
    const local = JSON.parse((await runCli(["whoami", "--json"], { cwd: home, env })).stdout);
    expect(local).toMatchObject({ target: "local", running: false, data_dir: join(home, "data") });
  });
});

describe("the embedded default", () => {
  const started: string[] = [];
  afterEach(async () => {
    for (const dataDir of started.splice(0)) await runCli(["server", "stop", "--force", "--data-dir", dataDir], { cwd: dataDir });
  });

  it("starts the local server on demand, once, and commands then use it", async () => {
    const home = await tempDir();
    const dataDir = join(home, "data");
    started.push(dataDir);
    const env = { HOME: home, ACONTEXT_DATA_DIR: dataDir, ACONTEXT_SERVER_PORT: String(await freePort()) };
    const first = await runCli(["disk", "create"], { cwd: home, env });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.stderr).toMatch(/started local server at http:\/\/127\.0\.0\.1:\d+ \(acontext server stop to stop it\)/);
    const second = await runCli(["disk", "ls"], { cwd: home, env });
    expect(second.stdout.trim()).toBe(first.stdout.trim());
    expect(second.stderr).toBe("");
    const status = JSON.parse((await runCli(["server", "status", "--json"], { cwd: home, env })).stdout);
    expect(status).toMatchObject({ disks: 1, data_dir: dataDir });
  });

  it("two commands starting the local server at once both succeed, sharing one server", async () => {
    const home = await tempDir();
    const dataDir = join(home, "data");
    started.push(dataDir);
    const env = { HOME: home, ACONTEXT_DATA_DIR: dataDir, ACONTEXT_SERVER_PORT: String(await freePort()) };
    const results = await Promise.all([runCli(["disk", "create"], { cwd: home, env }), runCli(["disk", "create"], { cwd: home, env })]);
    for (const result of results) expect(result.exitCode, result.stderr).toBe(0);
    const listed = (await runCli(["disk", "ls"], { cwd: home, env })).stdout.trim().split("\n").sort();
    expect(listed).toEqual(results.map((r) => r.stdout.trim()).sort());
  });
});

describe("completion", () => {
  it("bash and zsh scripts parse and know the commands; fish lists them", async () => {
    const home = await tempDir();
    const bash = await runCli(["completion", "bash"], { cwd: home });
    expect(bash.exitCode).toBe(0);
    expect(bash.stdout).toContain("complete -o default -F _acontext_complete acontext");
    expect(bash.stdout).toContain(`"disk cp") words="--base-url --api-key --recursive -r --force -f --json --help"`);
    await writeFile(join(home, "c.bash"), bash.stdout);
    expect((await execa("bash", ["-n", join(home, "c.bash")], { reject: false })).exitCode).toBe(0);
    const completed = await execa("bash", [
      "-c",
      `source ${join(home, "c.bash")}; COMP_WORDS=(acontext disk c); COMP_CWORD=2; _acontext_complete; echo "\${COMPREPLY[@]}"`,
    ]);
    expect(completed.stdout.split(" ").sort()).toEqual(["cp", "create"]);
    expect((await runCli(["completion", "zsh"], { cwd: home })).stdout).toContain("bashcompinit");
    expect((await runCli(["completion", "fish"], { cwd: home })).stdout).toContain(
      "complete -c acontext -f -n '__fish_seen_subcommand_from disk' -a 'create ls list cp rm glob grep'",
    );
    expect((await runCli(["completion", "tcsh"], { cwd: home })).exitCode).toBe(2);
  });
});
