// The interactive path, driven through a real pseudo-terminal (util-linux `script`), the way a
// person at a terminal would answer the prompts.
import { mkdir, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it, onTestFailed } from "vitest";
import { portAnswers } from "../../src/shared/processes.js";
import { DOCKER_ENGINE, TEST_IMAGE } from "../helpers/backends.js";
import { CLI, copyFixture, freePort, isAlive, runCli, stubBin, useTempDirs } from "../helpers/cli.js";
import { LOCAL_SANDBOXES, needs } from "../helpers/requirements.js";
import { startServerProcess, TEST_KEY } from "../helpers/server.js";
import { upstreamProxy } from "../helpers/upstream-proxy.js";

const tempDir = useTempDirs();
const terminals: Array<{ kill: () => boolean }> = [];
afterEach(() => {
  for (const child of terminals.splice(0)) child.kill();
});

const KEY = { enter: "\r", down: "\x1b[B", ctrlC: "\x03" };

/** Runs the CLI on a pseudo-terminal; `answer` waits for screen text and types keys. */
function onTerminal(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const child = execa("script", ["-qfec", command, "/dev/null"], {
    cwd,
    env: { ...process.env, ...env, TERM: "xterm", COLUMNS: "120", LINES: "40" },
    extendEnv: false,
    reject: false,
    stdin: "pipe",
    buffer: false,
  });
  terminals.push(child);
  let screen = "";
  onTestFailed(() => console.error(`the terminal of acontext ${args.join(" ")}:\n${plain()}`));
  const waiters: Array<() => void> = [];
  child.stdout!.on("data", (chunk: Buffer) => {
    screen += chunk.toString();
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<void>((resolve) => child.stdout!.once("close", resolve));
  // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences are what is removed
  const plain = () => screen.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
  return {
    child,
    screen: plain,
    /**
     * Waits until `text` appears after position `from` of the output, types `keys`, and returns
     * the position just past that text (where to look for the next answer).
     */
    async answer(text: string, keys: string, from = 0): Promise<number> {
      while (!plain().slice(from).includes(text)) {
        const more = new Promise<void>((resolve) => waiters.push(resolve));
        await Promise.race([more, closed]);
        if (!plain().slice(from).includes(text) && child.stdout!.closed) {
          throw new Error(`terminal closed before "${text}":\n${plain()}`);
        }
      }
      child.stdin!.write(keys);
      return plain().indexOf(text, from) + text.length;
    },
  };
}

describe("sandbox start on a terminal", () => {
  it("picks cloudflare (Create), takes the default name and a chosen package manager", async () => {
    const cwd = await tempDir();
    const bin = join(cwd, "bin");
    await mkdir(bin);
    await stubBin(bin, "pnpm", "exit 0"); // installed, so it is offered next to npm
    const term = onTerminal(["sandbox", "start", "--no-install", "--no-start", "--json"], cwd, {
      PATH: `${bin}:${process.env.PATH}`,
    });

    let at = await term.answer("Select a sandbox project", "", 0);
    at = await term.answer("cloudflare (Create)", KEY.enter, at);
    at = await term.answer("Project folder name", KEY.enter, at);
    // pnpm is detected (installed first), npm is offered second: move down to it and take it.
    at = await term.answer("Package manager", KEY.down, at);
    await term.answer("❯ npm", KEY.enter, at);
    const result = await term.child;
    term.child.stdin!.end();

    expect(result.exitCode, term.screen()).toBe(0);
    expect(term.screen()).toMatch(/"packageManager": "npm"/);
    expect(term.screen()).toMatch(/"packageManagerSource": "prompt"/);
    expect(await readdir(join(cwd, "sandbox", "cloudflare"))).toContain("wrangler.jsonc");
  });

  it("lists local projects first, and Ctrl-C at a prompt cancels with exit 130", async () => {
    const cwd = await tempDir();
    const first = await execa(process.execPath, [CLI, "sandbox", "start", "--template", "cloudflare", "--name", "mine", "--no-install", "--no-start"], {
      cwd,
      reject: false,
    });
    expect(first.exitCode, first.stderr).toBe(0);

    const term = onTerminal(["sandbox", "start"], cwd, {});
    await term.answer("mine (Local) – sandbox/mine", KEY.ctrlC, 0);
    const result = await term.child;
    term.child.stdin!.end();
    expect(result.exitCode).toBe(130);
    expect(term.screen()).toContain("cancelled");
    expect(term.screen()).not.toMatch(/error|at .*\.js/);
    expect(await readdir(join(cwd, "sandbox"))).toEqual(["mine"]);
  });

  it("offers to go on without Docker, once per project; a real Ctrl-C on the terminal stops the dev server tree", async () => {
    const cwd = await tempDir();
    await copyFixture("dev-project", join(cwd, "sandbox", "dev"));
    const bin = join(cwd, "bin");
    await mkdir(bin);
    await stubBin(bin, "docker", "exit 1");
    const port = await freePort();
    const pidFile = join(cwd, "pids");
    const env = { HOME: cwd, PATH: `${bin}:${process.env.PATH}`, FIXTURE_PID_FILE: pidFile };
    const term = onTerminal(["sandbox", "start", "dev", "--pm", "npm", "--no-install", "--port", String(port)], cwd, env);
    let at = await term.answer("Docker is not running", "", 0);
    at = await term.answer("Start the Worker without containers?", "y\r", at);
    at = await term.answer(`ready: http://localhost:${port}`, "", at);
    expect(term.screen()).toContain("--enable-containers=false");
    const { readFile } = await import("node:fs/promises");
    const serverPid = Number((await readFile(pidFile, "utf8")).trim());
    await term.answer("press Ctrl-C to stop", KEY.ctrlC, at);
    const result = await term.child;
    term.child.stdin!.end();
    expect(result.exitCode).toBe(130);
    expect(term.screen()).toContain("stopped");
    expect(await isAlive(serverPid)).toBe(false);
    expect(await portAnswers(port, "127.0.0.1")).toBe(false);

    // The answer is kept for this project: the next start (on a terminal or not) does not ask again.
    const again = onTerminal(["sandbox", "start", "dev", "--pm", "npm", "--no-install", "--port", String(port)], cwd, env);
    at = await again.answer("going on without containers, as you chose for sandbox/dev", "", 0);
    await again.answer(`ready: http://localhost:${port}`, KEY.ctrlC, at);
    expect((await again.child).exitCode).toBe(130);
    again.child.stdin!.end();
    expect(again.screen()).not.toContain("Start the Worker without containers?");
    const saved = JSON.parse(await readFile(join(cwd, ".acontext", "sandbox-start.json"), "utf8"));
    expect(saved).toEqual({ [join(cwd, "sandbox", "dev")]: { withoutContainers: true } });
  });
});

describe("disk rm on a terminal", () => {
  it("asks before deleting a disk (the prompt loads through the CLI's code-cache loader)", async () => {
    const cwd = await tempDir();
    const server = await startServerProcess();
    const env = { HOME: cwd, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY };
    const disk = ((await (await server.api("/disk", { method: "POST" })).json()) as { data: { id: string } }).data.id;
    const listed = async () => ((await (await server.api("/disk")).json()) as { data: { items: Array<{ id: string }> } }).data.items.map((d) => d.id);

    const no = onTerminal(["disk", "rm", disk], cwd, env);
    await no.answer("Delete", "n\r");
    expect((await no.child).exitCode).toBe(0);
    expect(await listed()).toContain(disk);

    const yes = onTerminal(["disk", "rm", disk], cwd, env);
    await yes.answer("Delete", "y\r");
    expect((await yes.child).exitCode).toBe(0);
    expect(await listed()).not.toContain(disk);
  });
});

for (const [backend, requirement, args] of [
  ["local", LOCAL_SANDBOXES, ["--backend", "local"]],
  ["docker", DOCKER_ENGINE, ["--backend", "docker", "--image", TEST_IMAGE]],
] as const) {
  const onBackend = needs(`sandbox exec -t on a terminal, on the ${backend} backend`, requirement);
  it.skipIf(onBackend.skip)(`${onBackend.title}: our size and resizes, keys as typed, Ctrl-C to it`, async () => {
    const cwd = await tempDir();
    const server = await startServerProcess({ args: [...args] });
    const env = { HOME: cwd, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY };
    const sandbox = (await runCli(["sandbox", "create"], { cwd, env })).stdout.trim();
    const script =
      "trap 'stty size' WINCH; trap 'echo interrupted; exit 5' INT; tty; stty size; echo \"TERM=$TERM\"; read line; echo \"got:$line\"; while :; do sleep 0.1; done";
    const term = onTerminal(["sandbox", "exec", "-t", sandbox, "--", script], cwd, env);

    let at = await term.answer("40 120", "typed words\r"); // the size of the terminal the CLI runs on
    at = await term.answer("got:typed words", "", at);
    expect(term.screen()).toMatch(/\/dev\/pts\/\d+\r*\n[\s\S]*TERM=xterm/);
    // Resize the CLI's own terminal, as a window manager would: the sandbox's follows.
    const cliTerminal = await readlink(`/proc/${await cliPid(sandbox)}/fd/0`);
    await execa("stty", ["-F", cliTerminal, "rows", "50", "cols", "132"]);
    at = await term.answer("50 132", KEY.ctrlC, at);
    await term.answer("interrupted", "", at);
    expect((await term.child).exitCode).toBe(5);
  });
}

const terminalExec = needs("sandbox exec -t on a terminal", LOCAL_SANDBOXES);
describe.skipIf(terminalExec.skip)(terminalExec.title, () => {
  it("sandbox shell: a login shell in a sandbox; without an id, in a throwaway one", async () => {
    const cwd = await tempDir();
    const server = await startServerProcess();
    const env = { HOME: cwd, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY };
    const sandbox = (await runCli(["sandbox", "create"], { cwd, env })).stdout.trim();

    const shell = onTerminal(["sandbox", "shell", sandbox], cwd, env);
    const at = await shell.answer("root@sandbox:/workspace#", 'echo "shell=$0"; exit 7\r');
    await shell.answer("shell=bash", "", at);
    await shell.answer("logout", "", at); // a login shell
    expect((await shell.child).exitCode).toBe(7);

    const throwaway = onTerminal(["sandbox", "shell"], cwd, env);
    await throwaway.answer("root@sandbox:/workspace#", "exit\r");
    expect((await throwaway.child).exitCode).toBe(0);
    const left = JSON.parse((await runCli(["sandbox", "ls", "--json"], { cwd, env })).stdout) as Array<{ id: string }>;
    expect(left.map((s) => s.id)).toEqual([sandbox]);
  });

  it("server stop asks before it kills running sandboxes", async () => {
    const cwd = await tempDir();
    const server = await startServerProcess();
    const env = { HOME: cwd, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY };
    expect((await runCli(["sandbox", "create"], { cwd, env })).exitCode).toBe(0);
    const no = onTerminal(["server", "stop", "--data-dir", server.dataDir], cwd, env);
    await no.answer("Stop the server and kill its 1 running sandbox?", "n\r");
    expect((await no.child).exitCode).toBe(0);
    expect(no.screen()).toContain("left the server running");
    expect((await fetch(`${server.url}/health`)).status).toBe(200);

    const yes = onTerminal(["server", "stop", "--data-dir", server.dataDir], cwd, env);
    await yes.answer("Stop the server and kill its 1 running sandbox?", "y\r");
    expect((await yes.child).exitCode).toBe(0);
    expect(yes.screen()).toContain(`stopped the acontext server at ${server.url}`);
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });

  it("needs a terminal, and an API with terminals", async () => {
    const cwd = await tempDir();
    const server = await startServerProcess();
    const env = { HOME: cwd, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY };
    const sandbox = (await runCli(["sandbox", "create"], { cwd, env })).stdout.trim();
    const piped = await runCli(["sandbox", "exec", "-t", sandbox, "--", "true"], { cwd, env, input: "x" });
    expect(piped).toMatchObject({ exitCode: 2, stderr: expect.stringContaining("--tty needs a terminal, and stdin is not one") });

    const proxy = await upstreamProxy(server.url);
    const upstream = onTerminal(["sandbox", "exec", "-t", sandbox, "--", "true"], cwd, { ...env, ACONTEXT_BASE_URL: proxy.url });
    await upstream.answer("has no terminal for exec", "");
    expect((await upstream.child).exitCode).toBe(2);
  });
});

/** The pid of the CLI process running `sandbox exec` for `sandbox`. */
async function cliPid(sandbox: string): Promise<number> {
  for (const entry of await readdir("/proc")) {
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    const args = cmdline.split("\0");
    if (args[1] === CLI && args.includes("exec") && args.includes(sandbox)) return Number(entry);
  }
  throw new Error("the CLI process is not running");
}
