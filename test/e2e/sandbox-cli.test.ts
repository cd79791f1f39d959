// `acontext sandbox …` and `disk cp` with sandboxes, as a user runs them: the built CLI against a
// real server process with real local sandboxes (root only).
import { createHash, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { CLI, lineWatcher, runCli, useTempDirs } from "../helpers/cli.js";
import { LOCAL_SANDBOXES, needs, SANDBOX_NETWORK } from "../helpers/requirements.js";
import { startServerProcess, TEST_KEY } from "../helpers/server.js";
import { upstreamProxy } from "../helpers/upstream-proxy.js";

const tempDir = useTempDirs();

async function setup() {
  const server = await startServerProcess();
  const home = await tempDir();
  const env = { HOME: home, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY };
  const run = (args: string[], input?: string) => runCli(args, { cwd: home, env, input });
  return { server, home, env, run };
}

const commands = needs("sandbox commands", LOCAL_SANDBOXES);
describe.skipIf(commands.skip)(commands.title, () => {
  it("runs the seed workflow through the CLI: disk, sandbox, wc -l, back to the disk and to local", async () => {
    const { run, home } = await setup();
    const disk = (await run(["disk", "create"])).stdout.trim();
    const sandbox = (await run(["sandbox", "create"])).stdout.trim();
    expect(sandbox).toMatch(/^[0-9a-f-]{36}$/);
    await writeFile(join(home, "notes.txt"), "one\ntwo\nthree\nfour\n");

    expect((await run(["disk", "cp", "notes.txt", `disk://${disk}/in/`])).exitCode).toBe(0);
    expect((await run(["disk", "cp", `disk://${disk}/in/notes.txt`, `sandbox://${sandbox}/workspace/`])).exitCode).toBe(0);
    const count = await run(["sandbox", "exec", sandbox, "--", "wc -l < notes.txt > count.txt && cat count.txt"]);
    expect(count).toMatchObject({ exitCode: 0, stdout: "4" });
    expect((await run(["disk", "cp", `sandbox://${sandbox}/workspace/count.txt`, `disk://${disk}/out/`])).exitCode).toBe(0);
    expect((await run(["disk", "cp", `disk://${disk}/out/count.txt`, "count.txt"])).exitCode).toBe(0);
    expect((await run(["disk", "cp", `sandbox://${sandbox}/workspace/count.txt`, "direct.txt"])).exitCode).toBe(0);
    expect(await readFile(join(home, "count.txt"), "utf8")).toBe("4\n");
    expect(await readFile(join(home, "direct.txt"), "utf8")).toBe("4\n");

    const listed = JSON.parse((await run(["sandbox", "ls", "--json"])).stdout);
    expect(listed).toEqual([expect.objectContaining({ id: sandbox, status: "running" })]);
    expect((await run(["sandbox", "kill", sandbox])).stderr).toContain(`killed ${sandbox}`);
    expect((await run(["sandbox", "ls"])).stdout).toBe("");
    expect(JSON.parse((await run(["sandbox", "ls", "-a", "--json"])).stdout)).toEqual([expect.objectContaining({ id: sandbox, status: "killed" })]);
    expect((await run(["disk", "rm", "-y", disk])).exitCode).toBe(0);
  });

  it("passes the remote exit code through; 124 on timeout; 125 when the CLI or API fails; 2 on bad usage", async () => {
    const { run } = await setup();
    const sandbox = (await run(["sandbox", "create"])).stdout.trim();
    // (stderr in the message: a CLI that crashed would say why there.)
    for (const [command, code] of [
      ["true", 0],
      ["false", 1],
      ["exit 42", 42],
      ["kill -9 $$", 137],
    ] as const) {
      const result = await run(["sandbox", "exec", sandbox, "--", command]);
      expect(result.exitCode, `${command}: ${result.stderr}`).toBe(code);
    }
    const timeout = await run(["sandbox", "exec", "--timeout", "1s", sandbox, "--", "sleep 30"]);
    expect(timeout.exitCode).toBe(124);
    expect(timeout.stderr).toContain("timeout");
    const missing = await run(["sandbox", "exec", "00000000-0000-4000-8000-000000000000", "--", "true"]);
    expect(missing.exitCode).toBe(125);
    expect(missing.stderr).toContain("hint: list sandboxes: acontext sandbox ls -a");
    const malformed = await run(["sandbox", "exec", "not-an-id", "--", "true"]);
    expect(malformed).toMatchObject({
      exitCode: 125,
      stderr: expect.stringMatching(/^error: invalid sandbox_id \(HTTP 400\).*\nhint: list sandboxes: acontext sandbox ls -a$/),
    });
    expect((await run(["sandbox", "exec", "-e", "not valid", sandbox, "--", "true"])).exitCode).toBe(2);
    expect((await run(["sandbox", "exec", "--timeout", "soon", sandbox, "--", "true"])).exitCode).toBe(2);
    expect((await run(["sandbox", "kill"])).exitCode).toBe(2);
  });

  it("keeps argument quoting, sets env and workdir, and streams stdout and stderr apart", async () => {
    const { run } = await setup();
    const sandbox = (await run(["sandbox", "create"])).stdout.trim();
    const words = await run(["sandbox", "exec", sandbox, "--", "printf", "%s|", "a b", "it's", "$HOME", "*"]);
    expect(words.stdout).toBe("a b|it's|$HOME|*|");
    const snippet = await run(["sandbox", "exec", "-e", "GREETING=hello there", "-w", "/tmp", sandbox, "--", 'echo "$GREETING from $(pwd)"; echo oops >&2']);
    expect(snippet).toMatchObject({ stdout: "hello there from /tmp", stderr: "oops" });
  });

  it("forwards multi-megabyte piped stdin and closes it at EOF", async () => {
    const { env, home } = await setup();
    const sandbox = (await runCli(["sandbox", "create"], { cwd: home, env })).stdout.trim();
    const input = `${Array.from({ length: 300_000 }, (_, i) => `row ${i}`).join("\n")}\n`;
    const script = "import sys, hashlib; data = sys.stdin.buffer.read(); print(hashlib.sha256(data).hexdigest(), data.count(b'\\n'))";
    const result = await execa(process.execPath, [CLI, "sandbox", "exec", sandbox, "--", "python3", "-c", script], {
      cwd: home,
      env: { ...process.env, ...env },
      input,
      reject: false,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${createHash("sha256").update(input).digest("hex")} 300000`);
  });

  it("does not wait for a stdin pipe that stays open but idle", async () => {
    const { env, home, run } = await setup();
    const sandbox = (await run(["sandbox", "create"])).stdout.trim();
    const cli = execa(process.execPath, [CLI, "sandbox", "exec", sandbox, "--", "echo done"], {
      cwd: home,
      env: { ...process.env, ...env },
      reject: false,
      stdin: "pipe",
    });
    const result = await cli; // stdin is never written to nor closed
    expect(result).toMatchObject({ exitCode: 0, stdout: "done" });
  });

  it("Ctrl-C kills the remote command and exits 130", async () => {
    const { env, home, run } = await setup();
    const sandbox = (await run(["sandbox", "create"])).stdout.trim();
    const cli = execa(process.execPath, [CLI, "sandbox", "exec", sandbox, "--", "echo started; sleep 300"], {
      cwd: home,
      env: { ...process.env, ...env },
      reject: false,
      buffer: false,
      stdin: "ignore",
    });
    await lineWatcher(cli.stdout!).waitFor(/^started$/);
    cli.kill("SIGINT");
    expect((await cli).exitCode).toBe(130);
    const left = await run(["sandbox", "exec", sandbox, "--", "ps -e -o args="]);
    expect(left.stdout).not.toContain("sleep 300");
  });

  it("run --rm creates, runs and kills; --json outputs parse; kill --all", async () => {
    const { run } = await setup();
    const once = await run(["sandbox", "run", "--rm", "--", "python3 -c 'print(6*7)'"]);
    expect(once).toMatchObject({ exitCode: 0, stdout: "42" });
    expect((await run(["sandbox", "ls"])).stdout).toBe("");
    const kept = await run(["sandbox", "run", "--", "exit 3"]);
    expect(kept.exitCode).toBe(3);
    const keptId = /sandbox ([0-9a-f-]{36})/.exec(kept.stderr)![1];
    const info = JSON.parse((await run(["sandbox", "get", keptId!, "--json"])).stdout);
    expect(info).toMatchObject({ id: keptId, status: "running", history: [{ command: "exit 3", exit_code: 3 }] });
    const created = JSON.parse((await run(["sandbox", "create", "--keepalive", "1h", "--json"])).stdout);
    expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBeGreaterThan(3500_000);
    expect((await run(["sandbox", "kill", "--all"])).stderr.match(/killed/g)).toHaveLength(2);
    expect((await run(["sandbox", "ls"])).stdout).toBe("");
  });

  it("copies directory trees to and from a sandbox (-r), from local and from a disk", async () => {
    const { run, home } = await setup();
    const { mkdir } = await import("node:fs/promises");
    const sandbox = (await run(["sandbox", "create"])).stdout.trim();
    const disk = (await run(["disk", "create"])).stdout.trim();
    await mkdir(join(home, "proj", "src", "deep"), { recursive: true });
    await writeFile(join(home, "proj", "README.md"), "readme\n");
    await writeFile(join(home, "proj", "src", "main.py"), "print('hi')\n");
    await writeFile(join(home, "proj", "src", "deep", "name with space.txt"), "spaced\n");

    expect((await run(["disk", "cp", "-r", "proj", `sandbox://${sandbox}/workspace/`])).stderr).toContain("copied 3 files");
    const found = await run(["sandbox", "exec", sandbox, "--", "cd /workspace/proj && find . -type f | sort"]);
    expect(found.stdout.split("\n")).toEqual(["./README.md", "./src/deep/name with space.txt", "./src/main.py"]);
    expect((await run(["sandbox", "exec", sandbox, "--", "python3 /workspace/proj/src/main.py"])).stdout).toBe("hi");

    expect((await run(["disk", "cp", "-r", `sandbox://${sandbox}/workspace/proj`, "back"])).exitCode).toBe(0);
    expect(await readFile(join(home, "back", "src", "deep", "name with space.txt"), "utf8")).toBe("spaced\n");

    expect((await run(["disk", "cp", "-r", `sandbox://${sandbox}/workspace/proj/`, `disk://${disk}/snap/`])).exitCode).toBe(0);
    const listed = JSON.parse((await run(["disk", "ls", "-R", `disk://${disk}/snap/`, "--json"])).stdout);
    expect(listed.filter((e: { type: string }) => e.type === "file").map((e: { path: string }) => e.path)).toEqual([
      "/snap/proj/README.md",
      "/snap/proj/src/deep/name with space.txt",
      "/snap/proj/src/main.py",
    ]);
    expect((await run(["disk", "cp", "-r", `disk://${disk}/snap/proj/`, `sandbox://${sandbox}/restore/`])).exitCode).toBe(0);
    expect((await run(["sandbox", "exec", sandbox, "--", "cat '/restore/proj/src/deep/name with space.txt'"])).stdout).toBe("spaced");
  });

  it.skipIf(!SANDBOX_NETWORK.ok)(needs("create --network gives the sandbox outbound network, off by default", SANDBOX_NETWORK).title, async () => {
    const { run } = await setup();
    const online = (await run(["sandbox", "create", "--network"])).stdout.trim();
    const offline = (await run(["sandbox", "create"])).stdout.trim();
    const devices = "ip -o link | cut -d: -f2 | sort | xargs";
    expect((await run(["sandbox", "exec", online, "--", devices])).stdout).toBe("lo tap0");
    expect((await run(["sandbox", "exec", offline, "--", devices])).stdout).toBe("lo");
  });

  it("copies binary files to and from a sandbox byte for byte, and says when a sandbox file is missing", async () => {
    const { run, home } = await setup();
    const sandbox = (await run(["sandbox", "create"])).stdout.trim();
    const bytes = randomBytes(2 * 1024 * 1024 + 3);
    await writeFile(join(home, "blob.bin"), bytes);
    expect((await run(["disk", "cp", "blob.bin", `sandbox://${sandbox}/workspace/data/`])).exitCode).toBe(0);
    expect((await run(["disk", "cp", `sandbox://${sandbox}/workspace/data/blob.bin`, "back.bin"])).exitCode).toBe(0);
    expect(
      createHash("sha256")
        .update(await readFile(join(home, "back.bin")))
        .digest("hex"),
    ).toBe(createHash("sha256").update(bytes).digest("hex"));
    const missing = await run(["disk", "cp", `sandbox://${sandbox}/workspace/none.bin`, "x.bin"]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("no such file or directory");
  });

  it("against an upstream-shaped API (no exec streaming, env or stdin): files go through a temporary disk, and it is removed", async () => {
    const { server, home } = await setup();
    const proxy = await upstreamProxy(server.url);
    const env = { HOME: home, ACONTEXT_BASE_URL: proxy.url, ACONTEXT_API_KEY: TEST_KEY };
    const run = (args: string[]) => runCli(args, { cwd: home, env });
    const sandbox = (await run(["sandbox", "create"])).stdout.trim();
    const bytes = randomBytes(300_000);
    await writeFile(join(home, "blob.bin"), bytes);
    await writeFile(join(home, "it's here.txt"), "quoted\n");

    expect((await run(["disk", "cp", "blob.bin", "it's here.txt", `sandbox://${sandbox}/workspace/in/`])).exitCode).toBe(0);
    const check = await run(["sandbox", "exec", sandbox, "--", 'sha256sum /workspace/in/blob.bin; cat "/workspace/in/it\'s here.txt"']);
    expect(check.stderr).toContain("cannot stream stdin to exec; not forwarding it (--stdin sends it");
    expect(check.stdout).toBe(`${createHash("sha256").update(bytes).digest("hex")}  /workspace/in/blob.bin\nquoted`);
    expect((await run(["disk", "cp", `sandbox://${sandbox}/workspace/in/blob.bin`, "back.bin"])).exitCode).toBe(0);
    expect(await readFile(join(home, "back.bin"))).toEqual(bytes);
    expect((await run(["disk", "cp", "-r", `sandbox://${sandbox}/workspace/in`, "tree"])).exitCode).toBe(0);
    expect(await readFile(join(home, "tree", "it's here.txt"), "utf8")).toBe("quoted\n");

    // -e and -w go into the command; --timeout cannot.
    const options = await run(["sandbox", "exec", "-e", "A=x y", "-w", "/workspace/in", sandbox, "--", 'echo "$A"; pwd']);
    expect(options).toMatchObject({ exitCode: 0, stdout: "x y\n/workspace/in" });
    const timeout = await run(["sandbox", "exec", "--timeout", "5s", sandbox, "--", "true"]);
    expect(timeout.exitCode).toBe(2);
    expect(timeout.stderr).toContain("this API has no timeout for exec");

    // Stdin: a file always (it ends), a pipe with --stdin; sent as a file the command reads, which
    // it deletes, through a temporary disk; -e and -w still apply.
    const input = randomBytes(2_000_000);
    const inputHash = createHash("sha256").update(input).digest("hex");
    await writeFile(join(home, "input.bin"), input);
    const piped = await runCli(["sandbox", "exec", "--stdin", "-e", "A=1", "-w", "/workspace/in", sandbox, "--", 'sha256sum; echo "$A $(pwd)"'], {
      cwd: home,
      env,
      input,
    });
    expect(piped).toMatchObject({ exitCode: 0, stdout: `${inputHash}  -\n1 /workspace/in`, stderr: "" });
    const fromFile = await execa("sh", ["-c", 'exec "$0" "$@" < input.bin', process.execPath, CLI, "sandbox", "exec", sandbox, "--", "sha256sum"], {
      cwd: home,
      env,
      reject: false,
    });
    expect(fromFile).toMatchObject({ exitCode: 0, stdout: `${inputHash}  -` });
    const exitCode = await runCli(["sandbox", "exec", "--stdin", sandbox, "--", "cat > /dev/null; exit 3"], { cwd: home, env, input: "x\n" });
    expect(exitCode.exitCode).toBe(3);
    expect((await run(["sandbox", "exec", sandbox, "--", "ls -A /tmp | grep -c acontext-stdin || true"])).stdout).toBe("0");

    // It really went the upstream way, and the staging disks are gone.
    expect(proxy.requests).toContain("POST /api/v1/disk");
    expect(proxy.requests.some((line) => line.endsWith("/artifact/download_to_sandbox"))).toBe(true);
    expect(proxy.requests.some((line) => line.endsWith("/artifact/upload_from_sandbox"))).toBe(true);
    expect(JSON.parse((await run(["disk", "ls", "--json"])).stdout)).toEqual([]);
  });

  it("Ctrl-C while stdin is being sent to an upstream-shaped API: exit 130, the temporary disk removed", async () => {
    const { server, home } = await setup();
    const proxy = await upstreamProxy(server.url);
    const env = { HOME: home, ACONTEXT_BASE_URL: proxy.url, ACONTEXT_API_KEY: TEST_KEY };
    const sandbox = (await runCli(["sandbox", "create"], { cwd: home, env })).stdout.trim();
    // stdin: a pipe that stays open and idle, so the upload of it is in flight until the signal.
    const cli = execa(process.execPath, [CLI, "sandbox", "exec", "--stdin", sandbox, "--", "cat"], {
      cwd: home,
      env: { ...process.env, ...env },
      reject: false,
      stdin: "pipe",
    });
    cli.stdin!.write("some input\n");
    while (!proxy.requests.some((line) => /^POST \/api\/v1\/disk\/[^/]+\/artifact$/.test(line))) await new Promise((resolve) => setTimeout(resolve, 20));
    cli.kill("SIGINT");
    const result = await cli;
    expect(result.exitCode).toBe(130);
    expect(result.stderr).toContain("cancelled");
    expect(JSON.parse((await runCli(["disk", "ls", "--json"], { cwd: home, env })).stdout)).toEqual([]);
    expect(proxy.requests.some((line) => line.endsWith("/exec"))).toBe(false);
  });
});
