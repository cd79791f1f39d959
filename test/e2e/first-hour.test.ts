// A newcomer's first hour (issue 14), as they would type it: the built CLI against a real server
// (and real sandboxes where the machine makes them). Each describe names the item.
import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { CLI, freePort, ROOT, runCli, useTempDirs } from "../helpers/cli.js";
import { LOCAL_SANDBOXES, needs } from "../helpers/requirements.js";
import { startServerProcess, TEST_KEY } from "../helpers/server.js";

const tempDir = useTempDirs();
const CLOUD = "https://api.acontext.app/api/v1";

async function against() {
  const server = await startServerProcess();
  const home = await tempDir();
  const env = { HOME: home, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY };
  const run = (args: string[], input?: string) => runCli(args, { cwd: home, env, input });
  return { server, home, env, run };
}

describe("5. which API a command talks to", () => {
  it("a key alone: whoami and every command say it is the hosted cloud, and why", async () => {
    const home = await tempDir();
    const env = { HOME: home, ACONTEXT_API_KEY: "sk-ac-0123456789abcdef" };
    const who = await runCli(["whoami"], { cwd: home, env });
    expect(who.stdout).toBe(
      `the hosted cloud at ${CLOUD} (the default: ACONTEXT_API_KEY is set without a base URL), key sk-ac-01…cdef (from ACONTEXT_API_KEY)`,
    );
    expect(JSON.parse((await runCli(["whoami", "--json"], { cwd: home, env })).stdout)).toMatchObject({ base_url: CLOUD, base_url_from: "default" });

    const ls = await runCli(["disk", "ls"], { cwd: home, env });
    expect(ls.stderr.split("\n")[0]).toBe(
      `using the hosted cloud at ${CLOUD} (the default: ACONTEXT_API_KEY is set without a base URL; set ACONTEXT_BASE_URL for another API)`,
    );
    // This machine cannot reach the cloud (a connection error); elsewhere the cloud refuses the key.
    if (ls.stderr.includes("cannot reach")) {
      expect(ls.stderr).toContain(`error: cannot reach the hosted cloud at ${CLOUD} (the default: ACONTEXT_API_KEY is set without a base URL)`);
      expect(ls.stderr).toContain("hint: for the local server unset ACONTEXT_API_KEY; for another API set ACONTEXT_BASE_URL or --base-url");
    }
  });

  it("a connection error names the API and where its URL came from", async () => {
    const home = await tempDir();
    const url = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(["disk", "ls"], { cwd: home, env: { HOME: home, ACONTEXT_BASE_URL: url, ACONTEXT_API_KEY: "k" } });
    expect(result).toMatchObject({
      exitCode: 1,
      stderr: `error: cannot reach ${url}/api/v1 (from ACONTEXT_BASE_URL): ECONNREFUSED\nhint: check the base URL and your network; \`acontext whoami\` shows the target`,
    });
  });
});

describe("6. every error has a hint, and hints name things that exist", () => {
  const taken: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of taken.splice(0)) await close();
  });

  it("the local server's port taken: the hint names ACONTEXT_SERVER_PORT, which commands have (not --port)", async () => {
    const home = await tempDir();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    taken.push(() => new Promise((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as { port: number }).port;
    const result = await runCli(["disk", "create"], {
      cwd: home,
      env: { HOME: home, ACONTEXT_DATA_DIR: join(home, "data"), ACONTEXT_SERVER_PORT: String(port) },
    });
    expect(result).toMatchObject({
      exitCode: 1,
      stderr: `error: cannot start the local server: port ${port} on 127.0.0.1 is in use by another program\nhint: choose a free port with ACONTEXT_SERVER_PORT (e.g. ACONTEXT_SERVER_PORT=${port + 1}), or point commands at a running API with ACONTEXT_BASE_URL`,
    });
    // `server start` has --port, and says so.
    const start = await runCli(["server", "start", "--port", String(port), "--data-dir", join(home, "other")], { cwd: home, env: { HOME: home } });
    expect(start.stderr).toContain("hint: choose another with --port (or ACONTEXT_SERVER_PORT)");
  });

  it("each error path: one error line, a hint whose commands, flags and variables exist, no capitalised Error, no stack", async () => {
    const { run, home } = await against();
    const disk = (await run(["disk", "create"])).stdout.trim();
    await writeFile(join(home, "a.txt"), "a\n");
    await run(["disk", "cp", "a.txt", `disk://${disk}/dir/`]);
    const readme = await readFile(join(ROOT, "README.md"), "utf8");
    const cases: Array<[string[], number]> = [
      [["disk", "cp", "nope.txt", `disk://${disk}/`], 1],
      [["disk", "cp", `disk://${disk}/nope.txt`, "./"], 1],
      [["disk", "cp", ".", `disk://${disk}/`], 2],
      [["disk", "ls", "disk://nope/"], 1],
      [["disk", "ls", "--bogus"], 2],
      [["disk", "rm", `disk://${disk}/dir/`], 2],
      [["disk", "rm", `disk://${disk}/nope.txt`], 1],
      [["disk", "rm", disk], 2],
      [["disk", "rm", "-y", "00000000-0000-4000-8000-000000000000"], 1],
      [["disk", "glob", "nope", "*"], 2],
      [["--bogus"], 2],
      [["dsik"], 2],
      [["help", "sandbox", "nope"], 2],
      [["--json", "sandbox", "kill", "x"], 2],
      [["sandbox", "exec"], 2],
      [["sandbox", "get", "00000000-0000-4000-8000-000000000000"], 1],
      [["sandbox", "kill"], 2],
      [["sandbox", "create", "--keepalive", "soon"], 2],
      [["sandbox", "start", "nope"], 2],
      [["server", "status", "--data-dir", join(home, "none")], 1],
      [["whoami", "--base-url", "not a url"], 2],
      [["login", "--base-url", "not a url"], 2],
      [["completion", "tcsh"], 2],
    ];
    for (const [args, code] of cases) {
      const result = await run(args);
      const what = `acontext ${args.join(" ")}:\n${result.stderr}`;
      expect(result.exitCode, what).toBe(code);
      const lines = result.stderr.split("\n");
      expect(
        lines.filter((line) => line.startsWith("error: ")),
        what,
      ).toHaveLength(1);
      const hint = lines.find((line) => line.startsWith("hint: "));
      expect(hint, what).toBeDefined();
      expect(result.stderr, what).not.toMatch(/^Error|\n\s+at /m);
      // The acontext commands a hint names exist, and so do its flags (on them or on the failing command).
      const failing = (await run(["help", ...args.filter((a) => /^[a-z]+$/.test(a)).slice(0, 2)])).stdout;
      const named = [...hint!.matchAll(/acontext((?: [a-z]+){0,2})/g)].map((m) => m[1]!.trim().split(" ").filter(Boolean));
      const helps = [failing];
      for (const words of named) {
        let help = await run(["help", ...words]);
        if (help.exitCode !== 0) help = await run(["help", ...words.slice(0, 1)]); // "acontext whoami shows…": a command, then words
        expect(help.exitCode, `${what}\nnames acontext ${words.join(" ")}`).toBe(0);
        helps.push(help.stdout);
      }
      for (const flag of hint!.match(/(?<![\w-])--[a-z][a-z-]*/g) ?? []) {
        expect(
          helps.some((text) => text.includes(flag)),
          `${what}\nnames ${flag}`,
        ).toBe(true);
      }
      for (const variable of hint!.match(/ACONTEXT_[A-Z_]+/g) ?? []) expect(readme, `${what}\nnames ${variable}`).toContain(variable);
    }
  });
});

describe("7. options before -- are acontext's, wherever they stand", () => {
  it("global options go before the subcommand too; help of a nested command", async () => {
    const { run, server } = await against();
    const disk = (await run(["disk", "create"])).stdout.trim();
    const listed = await run(["--json", "disk", "ls"]);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: disk })]);
    const flagged = await runCli(["--base-url", server.url, "--api-key", TEST_KEY, "disk", "ls"], { cwd: await tempDir(), env: { HOME: await tempDir() } });
    expect(flagged).toMatchObject({ exitCode: 0, stdout: disk });
    const refused = await run(["--json", "sandbox", "kill", "x"]);
    expect(refused).toMatchObject({ exitCode: 2, stderr: "error: --json does not apply to 'acontext sandbox kill'\nhint: see 'acontext sandbox kill --help'" });
    const help = await run(["help", "sandbox", "exec"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^Usage: acontext sandbox exec \[options\] <id> <command\.\.\.>/);
    expect((await run(["sandbox", "help", "exec"])).stdout).toMatch(/^Usage: acontext sandbox exec/);
  });

  const withSandbox = needs("between the sandbox id and --: --timeout, -e, -w; the command starts after -- or at its first word", LOCAL_SANDBOXES);
  it.skipIf(withSandbox.skip)(withSandbox.title, async () => {
    const { run } = await against();
    const sandbox = (await run(["sandbox", "create"])).stdout.trim();
    const started = Date.now();
    const timeout = await run(["sandbox", "exec", sandbox, "--timeout", "1s", "--", "sleep 30"]);
    expect(timeout.exitCode, timeout.stderr).toBe(124);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect((await run(["sandbox", "exec", sandbox, "-e", "A=1", "-w", "/tmp", "--", "echo $A $(pwd)"])).stdout).toBe("1 /tmp");
    expect((await run(["sandbox", "exec", "-e", "A=1", sandbox, "-e", "B=2", "--", "echo $A$B"])).stdout).toBe("12");
    // The first word that is not an option starts the command: what follows is the command's.
    expect((await run(["sandbox", "exec", sandbox, "echo", "--timeout", "-e"])).stdout).toBe("--timeout -e");
    expect((await run(["sandbox", "exec", sandbox, "--", "echo", "--timeout"])).stdout).toBe("--timeout");
    expect((await run(["sandbox", "exec", sandbox, "--bogus", "--", "true"])).stderr).toContain("error: unknown option '--bogus'");
    const once = await run(["sandbox", "run", "--rm", "echo", "hi", "--rm"]);
    expect(once).toMatchObject({ exitCode: 0, stdout: "hi --rm" });
  });
});

const sandboxes = needs("8. a shell with input piped in", LOCAL_SANDBOXES);
describe.skipIf(sandboxes.skip)(sandboxes.title, () => {
  it("runs the input as a script (as docker exec -i), in a throwaway sandbox that goes, or in the one named", async () => {
    const { run } = await against();
    const script = await run(["sandbox", "shell"], 'echo "from a pipe in $0"; cd /tmp && pwd\nexit 3\n');
    expect(script).toMatchObject({ exitCode: 3, stdout: "from a pipe in bash\n/tmp" });
    expect((await run(["sandbox", "ls"])).stdout).toBe("");
    const sandbox = (await run(["sandbox", "create"])).stdout.trim();
    expect((await run(["sandbox", "shell", sandbox], "echo kept > /workspace/f\n")).exitCode).toBe(0);
    expect((await run(["sandbox", "exec", sandbox, "--", "cat f"])).stdout).toBe("kept");
  });

  it("-t without a terminal is refused before a sandbox is made", async () => {
    const { run } = await against();
    const before = JSON.parse((await run(["sandbox", "ls", "-a", "--json"])).stdout).length;
    const refused = await run(["sandbox", "run", "-t", "--", "bash"], "echo hi\n");
    expect(refused).toMatchObject({ exitCode: 2, stderr: expect.stringContaining("error: --tty needs a terminal, and stdin is not one") });
    expect(JSON.parse((await run(["sandbox", "ls", "-a", "--json"])).stdout)).toHaveLength(before);
  });
});

const stopping = needs("9. server stop with sandboxes running", LOCAL_SANDBOXES);
describe.skipIf(stopping.skip)(stopping.title, () => {
  it("without a terminal needs --force, saying how many would die; with it, stops", async () => {
    const { run, server } = await against();
    await run(["sandbox", "create"]);
    await run(["sandbox", "create"]);
    const refused = await run(["server", "stop", "--data-dir", server.dataDir]);
    expect(refused).toMatchObject({
      exitCode: 2,
      stderr: "error: stopping the server kills its 2 running sandboxes\nhint: stop it anyway with --force; see them with: acontext sandbox ls",
    });
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const forced = await run(["server", "stop", "--force", "--data-dir", server.dataDir]);
    expect(forced).toMatchObject({ exitCode: 0, stderr: `stopped the acontext server at ${server.url} (pid ${server.pid})` });
  });

  it("with none running, stops without asking", async () => {
    const { run, server } = await against();
    expect((await run(["server", "stop", "--data-dir", server.dataDir])).exitCode).toBe(0);
  });
});

const shapes = needs("10. one JSON shape per sandbox, and a history of what the user ran", LOCAL_SANDBOXES);
describe.skipIf(shapes.skip)(shapes.title, () => {
  it("create, ls and get print the same fields; cp's own look-ups are not in the history; a killed one says when", async () => {
    const { run, home } = await against();
    const created = JSON.parse((await run(["sandbox", "create", "--json"])).stdout);
    const id = created.id;
    await writeFile(join(home, "in.txt"), "x\n");
    expect((await run(["disk", "cp", "in.txt", `sandbox://${id}/workspace/`])).exitCode).toBe(0);
    expect((await run(["disk", "cp", `sandbox://${id}/workspace/in.txt`, "back.txt"])).exitCode).toBe(0);
    expect((await run(["sandbox", "exec", id, "--", "true"])).exitCode).toBe(0);
    const listed = JSON.parse((await run(["sandbox", "ls", "--json"])).stdout)[0];
    const got = JSON.parse((await run(["sandbox", "get", id, "--json"])).stdout);
    const keys = ["id", "status", "created_at", "expires_at", "killed_at", "keepalive_seconds", "history", "generated_files"];
    for (const view of [created, listed, got]) expect(Object.keys(view)).toEqual(keys);
    expect(got).toEqual(listed);
    expect(got).toMatchObject({ id, status: "running", killed_at: null, keepalive_seconds: 600, history: [{ command: "true", exit_code: 0 }] });

    await run(["sandbox", "kill", id]);
    const killed = JSON.parse((await run(["sandbox", "get", id, "--json"])).stdout);
    expect(killed).toMatchObject({ status: "killed", expires_at: null, killed_at: expect.any(String) });
    const text = (await run(["sandbox", "get", id])).stdout;
    expect(text).toMatch(/^killed {5}\d{4}-/m);
    expect(text).not.toMatch(/^expires/m);
  });
});

describe("11. help that helps", () => {
  it("every command has examples; disk cp names sandbox://; server start shows sizes as sizes and no ~0 ms", async () => {
    const home = await tempDir();
    const help = async (words: string[]) => (await runCli([...words, "--help"], { cwd: home })).stdout;
    const groups: Record<string, string[]> = {
      sandbox: ["start", "create", "ls", "get", "exec", "run", "shell", "kill"],
      disk: ["create", "ls", "cp", "rm", "glob", "grep"],
      server: ["start", "stop", "status"],
    };
    const leaves = [...Object.entries(groups).flatMap(([group, subs]) => subs.map((sub) => [group, sub])), ["login"], ["logout"], ["whoami"], ["completion"]];
    for (const words of leaves) expect(await help(words), words.join(" ")).toMatch(/Examples?:\n {2}\$ .*acontext /);
    const cp = await help(["disk", "cp"]);
    expect(cp).toContain("sandbox://SANDBOX_ID/path");
    expect(cp).toMatch(/\$ acontext disk cp .*sandbox:\/\//);
    const start = (await help(["server", "start"])).replace(/\s+/g, " ");
    expect(start).not.toContain("1073741824");
    expect(start).toContain("(default 1GiB)");
    expect(start).not.toContain("~0 ms");
  });
});

describe("12. small things", () => {
  it("a single copy names the file it wrote", async () => {
    const { run, home } = await against();
    const disk = (await run(["disk", "create"])).stdout.trim();
    await writeFile(join(home, "report.csv"), "a,b\n");
    expect((await run(["disk", "cp", "report.csv", `disk://${disk}/data/`])).stderr).toBe(`copied report.csv (4 B) to disk://${disk}/data/report.csv`);
    expect((await run(["disk", "cp", `disk://${disk}/data/report.csv`, "./", "--force"])).stderr).toBe(
      `copied disk://${disk}/data/report.csv (4 B) to report.csv`,
    );
    expect((await run(["disk", "cp", "-", `disk://${disk}/in.txt`], "hi\n")).stderr).toBe(`copied stdin (3 B) to disk://${disk}/in.txt`);
  });

  it("a reader that stops early (| head) is not an error", async () => {
    const { run, home, env } = await against();
    const disk = (await run(["disk", "create"])).stdout.trim();
    await writeFile(join(home, "big.bin"), Buffer.alloc(8 * 1024 * 1024, "x"));
    expect((await run(["disk", "cp", "big.bin", `disk://${disk}/`])).exitCode).toBe(0);
    const piped = await execa("bash", ["-o", "pipefail", "-c", `"${process.execPath}" "${CLI}" disk cp disk://${disk}/big.bin - | head -c 10`], {
      cwd: home,
      env: { ...process.env, ...env },
      reject: false,
    });
    expect(piped).toMatchObject({ exitCode: 0, stdout: "xxxxxxxxxx", stderr: "" });
  });
});
