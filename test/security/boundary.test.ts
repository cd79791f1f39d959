// The sandbox boundary from the inside out: what a hostile sandbox could do to our helpers in it,
// to the server through transfers and listings, to the host through the network, and what a
// client could send into a sandbox. Each test here failed before the boundary was closed (run
// against that code), and must keep failing the attack on every backend. Real sandboxes, a real
// server; traffic on loopback and this machine's own addresses only.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { SandboxLimits } from "../../src/sandbox/backend.js";
import { LocalBackend } from "../../src/sandbox/local/local-backend.js";
import { hostAddresses } from "../../src/sandbox/unreachable.js";
import { ApiError } from "../../src/server/http.js";
import { ManualClock } from "../helpers/clock.js";
import { LOCAL_SANDBOXES, needs, ROOT, SANDBOX_NETWORK } from "../helpers/requirements.js";
import { execIn, serviceOver } from "../helpers/sandbox.js";
import { call, startServerProcess } from "../helpers/server.js";

const LIMITS: SandboxLimits = { memoryBytes: 256 * 1024 ** 2, pids: 128, cpus: 1, diskBytes: 256 * 1024 ** 2 };

const noLimit = { bytes: Infinity, exceeded: () => new Error("unreachable") };

/** Processes of a sandbox, as seen inside it: "pid ppid args" lines. */
const PS = "ps -e -o pid=,ppid=,args=";

const helpers = needs("our helpers inside a sandbox", LOCAL_SANDBOXES);
describe.skipIf(helpers.skip)(helpers.title, () => {
  let stateDir: string;
  let backend: LocalBackend;
  let id: string;
  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "acontext-boundary-"));
    backend = new LocalBackend(stateDir, "boundary");
    id = `h${randomBytes(6).toString("hex")}`;
    await backend.create({ id, network: false, limits: LIMITS });
  });
  afterAll(async () => {
    await backend.killAll();
    await rm(stateDir, { recursive: true, force: true });
  });
  const run = (command: string) => execIn(backend, id, command);

  // PTRACE_ATTACH, process_vm_readv and /proc/PID/mem against PID 1 and the exec agent.
  // PTRACE_ATTACH, process_vm_readv and /proc/PID/mem against PID 1, the exec agent (the top of
  // its processes: its parent, nsenter, is outside the sandbox) and its handlers.
  const attach = `import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def field(pid, name):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(name + ":"): return line.split()[1]
def cmdline(pid): return open("/proc/%d/cmdline" % pid, "rb").read().split(b"\\0")
pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
agent = [p for p in pids if field(p, "PPid") == "0" and cmdline(p)[1:2] == [b"/agent.pl"]][0]
targets = [1, agent] + [p for p in pids if field(p, "PPid") == str(agent)]
for pid in targets:
    r = libc.ptrace(16, pid, 0, 0)
    e = ctypes.get_errno()
    if r == 0:
        os.waitpid(pid, 0)
        libc.ptrace(17, pid, 0, 0)
    buf = ctypes.create_string_buffer(8)
    local = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), 8)
    remote = (ctypes.c_void_p * 2)(0x400000, 8)
    v = libc.process_vm_readv(pid, local, 1, remote, 1, 0)
    ve = ctypes.get_errno()
    try:
        open("/proc/%d/mem" % pid, "rb").close(); mem = "open"
    except OSError as err:
        mem = errno.errorcode[err.errno]
    print(pid, "ptrace", errno.errorcode.get(e, "ok") if r else "ATTACHED", "vm_readv", errno.errorcode.get(ve, "ok") if v < 0 else "READ", "mem", mem)`;

  it("no sandbox process can ptrace, read or write the memory of PID 1, the exec agent or its handlers", async () => {
    const result = await run(`python3 -c '${attach}'`);
    const lines = result.stdout.trim().split("\n");
    expect(lines.length, result.stderr).toBeGreaterThanOrEqual(4); // PID 1, the agent, the waiting handler, this command's
    for (const line of lines) expect(line).toMatch(/^\d+ ptrace EPERM vm_readv EPERM mem EACCES$/);
  });

  it("every process in the sandbox, PID 1 and our helpers included, is under the seccomp filter", async () => {
    await run("sleep 300 > /dev/null 2>&1 &");
    const seccomp = (await run('for s in /proc/[0-9]*/status; do awk \'/^(Pid|Seccomp):/ {printf "%s ", $2} END {print ""}\' $s; done')).stdout;
    const rows = seccomp
      .trim()
      .split("\n")
      .filter((row) => row.trim());
    expect(rows.length).toBeGreaterThanOrEqual(4); // PID 1, the agent, its waiting handler, this command
    for (const row of rows) expect(row.trim(), row).toMatch(/^\d+ 2$/);
    // A denied syscall stays denied in PID 1's place too: it holds no capability to give away.
    const init = (await run("grep -E '^(CapEff|CapBnd|CapPrm|NoNewPrivs):' /proc/1/status")).stdout;
    expect(init).toMatch(/^CapPrm:\s+0{16}$/m);
    expect(init).toMatch(/^CapEff:\s+0{16}$/m);
    expect(init).toMatch(/^CapBnd:\s+0{16}$/m);
    expect(init).toMatch(/^NoNewPrivs:\s+1$/m);
  });

  it("PID 1 runs no program the sandbox can replace: it is the host's perl, waiting, with no child of its own", async () => {
    // Before, PID 1 was a shell loop that ran `sleep` from the sandbox's PATH, unfiltered. (A
    // fresh sandbox: orphans of earlier commands are PID 1's children.)
    const fresh = `p${randomBytes(6).toString("hex")}`;
    await backend.create({ id: fresh, network: false, limits: LIMITS });
    const init = (await execIn(backend, fresh, "cat /proc/1/cmdline | tr '\\0' ' '; echo; ps -o pid= --ppid 1 | wc -l")).stdout.split("\n");
    expect(init[0]).toMatch(/^\/usr\/bin\/perl \S*\/init\.pl $/);
    expect(init[1]).toBe("0");
  });

  it("a sandbox that stops its own exec agent stalls neither an exec past its timeout nor its kill", async () => {
    const policy = serviceOver(backend);
    try {
      const stopped = await policy.create(LIMITS);
      await policy.run(stopped, `kill -STOP $(${PS} | awk '$2 == 0 && $4 == "/agent.pl" {print $1}')`);
      await policy.run(stopped, "true"); // the handler forked ahead takes this one
      expect(await policy.run(stopped, "true", { timeoutSeconds: 1 })).toMatchObject({ exitCode: 124, timedOut: true });
      await backend.kill(stopped); // hung forever before: the agent's nsenter stopped itself too
      expect(await backend.status(stopped)).toBe("gone");
    } finally {
      await policy.close();
    }
  });

  it("the exec agent is not dumpable and is a child of nothing in the sandbox", async () => {
    const agent = (await run(`${PS} | awk '$2 == 0 && $4 == "/agent.pl" {print $1}'`)).stdout.trim();
    expect(agent).toMatch(/^\d+$/);
    expect((await run("cat /proc/self/environ > /dev/null")).exitCode).toBe(0);
    // /proc/PID/environ of a non-dumpable process is closed even to the sandbox's root.
    const environ = await run(`cat /proc/${agent}/environ`);
    expect(environ.exitCode).not.toBe(0);
    expect(environ.stderr).toContain("Permission denied");
  });
});

const execs = needs("exec: what a client sends into a sandbox, and what a command leaves behind", LOCAL_SANDBOXES);
describe.skipIf(execs.skip)(execs.title, () => {
  let stateDir: string;
  let backend: LocalBackend;
  let policy: ReturnType<typeof serviceOver>;
  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "acontext-boundary-exec-"));
    backend = new LocalBackend(stateDir, "exec");
    policy = serviceOver(backend);
  });
  afterAll(async () => {
    await backend.killAll();
    await policy.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  /** The sleeps running in a sandbox (their command lines), sorted. */
  async function sleepsIn(service: ReturnType<typeof serviceOver>, id: string): Promise<string[]> {
    const listed = await service.run(id, "ps -e -o args=");
    expect(listed.exitCode, listed.stderr).toBe(0);
    return listed.stdout
      .split("\n")
      .filter((line) => /^sleep \d+$/.test(line))
      .sort();
  }

  it("a timeout kills what the command started, after setsid and double forks too", async () => {
    // On a clock of the test's: the timeout comes once every escapee is seen running, not before.
    const clock = new ManualClock();
    const timed = serviceOver(backend, {}, clock);
    try {
      const id = await timed.create(LIMITS);
      const escapes = [
        "setsid sleep 3001 > /dev/null 2>&1 < /dev/null &",
        "(setsid sh -c 'sleep 3002 & wait' > /dev/null 2>&1 < /dev/null &) ",
        'python3 -c \'import os\nif os.fork() == 0:\n  os.setsid()\n  if os.fork() == 0:\n    os.execvp("sleep", ["sleep", "3003"])\n\' > /dev/null 2>&1',
        "nohup setsid sleep 3004 > /dev/null 2>&1 &",
      ].join("\n");
      const result = timed.run(id, `${escapes}\nsleep 300`, { timeoutSeconds: 1 });
      const all = ["sleep 300", "sleep 3001", "sleep 3002", "sleep 3003", "sleep 3004"];
      await vi.waitFor(async () => expect(await sleepsIn(timed, id)).toEqual(all), { timeout: 10_000 });
      clock.advance(1000);
      expect(await result).toMatchObject({ exitCode: 124, timedOut: true });
      expect(await sleepsIn(timed, id)).toEqual([]);
      // A command that ends on its own leaves its background jobs running (as `cmd &` should).
      await timed.run(id, "setsid sleep 3005 > /dev/null 2>&1 < /dev/null &");
      await vi.waitFor(async () => expect(await sleepsIn(timed, id)).toEqual(["sleep 3005"]), { timeout: 10_000 });
    } finally {
      await timed.close();
    }
  });

  it("a client that hangs up kills what its command started, wherever it went", async () => {
    const id = await policy.create(LIMITS);
    const hangUp = new AbortController();
    let started!: () => void;
    const output = new Promise<void>((resolve) => (started = resolve));
    const running = policy.service.exec(id, {
      command: "setsid sleep 3006 > /dev/null 2>&1 < /dev/null & echo started; sleep 300",
      timeoutSeconds: 300,
      signal: hangUp.signal,
      onOutput: () => started(),
    });
    await output;
    await vi.waitFor(async () => expect(await sleepsIn(policy, id)).toEqual(["sleep 300", "sleep 3006"]), { timeout: 10_000 });
    hangUp.abort();
    await running;
    expect(await sleepsIn(policy, id)).toEqual([]);
  });

  it.each([
    ["a command with a NUL byte", { command: "echo safe\0; touch /workspace/injected" }],
    ["an env value with a NUL byte (an extra variable)", { command: "true", env: { A: "x\0LD_PRELOAD=/workspace/evil.so" } }],
    ["an env name that is not a NAME", { command: "true", env: { "A=B": "x" } }],
    ["a cwd with a NUL byte", { command: "true", cwd: "/workspace\0/tmp" }],
    ["a relative cwd", { command: "true", cwd: "workspace" }],
    ["a command over the kernel's one-argument limit", { command: `echo ${"x".repeat(200_000)}` }],
    ["a command of 2 MiB", { command: "x".repeat(2 * 1024 * 1024) }],
    ["env of 1.5 MB in all", { command: "true", env: Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`V${i}`, "y".repeat(100_000)])) }],
  ])("%s is refused (400) before anything runs", async (_name, input) => {
    const id = await policy.create(LIMITS);
    const agentsBefore = await agents(backend, id);
    const error = await policy.service.exec(id, { timeoutSeconds: 10, ...input }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400 });
    expect((await policy.run(id, "ls /workspace; echo ok")).stdout).toBe("ok\n");
    expect(await agents(backend, id)).toEqual(agentsBefore);
  });
});

/** The top exec agent processes of a sandbox (their parent is outside: ppid 0). */
async function agents(backend: LocalBackend, id: string): Promise<string[]> {
  const out = (await execIn(backend, id, `${PS} | awk '$2 == 0 && $4 == "/agent.pl" {print $1}'`)).stdout;
  return out.trim().split("\n");
}

const transfers = needs("transfers and listings: a sandbox's files and names are hostile", LOCAL_SANDBOXES);
describe.skipIf(transfers.skip)(transfers.title, () => {
  let stateDir: string;
  let backend: LocalBackend;
  let policy: ReturnType<typeof serviceOver>;
  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "acontext-boundary-files-"));
    backend = new LocalBackend(stateDir, "files");
    policy = serviceOver(backend, { transferTimeoutMs: 2000, maxListedFiles: 1000 });
  });
  afterAll(async () => {
    await backend.killAll();
    await policy.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("a read past the deadline is cut with a 504 (a stalled sandbox cannot hold a request), and the sandbox is not left busy", async () => {
    // The deadline on a clock of the test's: it comes when the test says, not two seconds later.
    const clock = new ManualClock();
    const timed = serviceOver(backend, { transferTimeoutMs: 2000 }, clock);
    try {
      const id = await timed.create(LIMITS);
      await timed.run(id, "head -c 1000 /dev/urandom > /workspace/f");
      await new Promise((resolve) => setImmediate(resolve)); // the exec's new idle deadline is set
      // Stall the sandbox's agent from the host, as a sandbox could stall its own processes.
      const agent = agentHostPids(backend, id);
      const signal = (name: string) => {
        for (const pid of agent) spawnSync("kill", [`-${name}`, String(pid)]);
      };
      signal("STOP");
      try {
        const pending = clock.scheduled;
        const read = timed.service.readFile(id, "/workspace/f", { limit: noLimit });
        const settled = read.then(
          () => "read",
          (err: unknown) => err,
        );
        await vi.waitFor(() => expect(clock.scheduled).toBe(pending + 1)); // the transfer and its deadline are under way
        clock.advance(2000);
        expect(await settled).toMatchObject({ status: 504 });
      } finally {
        signal("CONT");
      }
      expect((timed.service as unknown as { busy: Map<string, number> }).busy.has(id)).toBe(false);
    } finally {
      await timed.close();
    }
  });

  it("a read the client gives up on stops, and leaves no helper reading in the sandbox", async () => {
    const id = await policy.create(LIMITS);
    await policy.run(id, "truncate -s 10G /workspace/sparse");
    const client = new AbortController();
    const file = await policy.service.readFile(id, "/workspace/sparse", { limit: noLimit, signal: client.signal });
    let seen = 0;
    for await (const chunk of file.stream) {
      seen += (chunk as Buffer).length;
      if (seen > 1024 ** 2) client.abort();
      if (client.signal.aborted) break;
    }
    // The handler that was reading ends (its connection closed): only the agent and its waiting handler stay.
    let handlers = "";
    for (let i = 0; i < 200; i++) {
      handlers = (await execIn(backend, id, `${PS} | awk '$4 == "/agent.pl"' | wc -l`)).stdout.trim();
      if (handlers === "3") break; // the agent, the handler waiting, and this exec's
    }
    expect(handlers).toBe("3");
    expect((policy.service as unknown as { busy: Map<string, number> }).busy.has(id)).toBe(false);
  });

  it("a listing that names more files than the policy takes is refused while it streams", async () => {
    const id = await policy.create(LIMITS);
    await policy.run(id, "mkdir -p /workspace/many && cd /workspace/many && python3 -c 'for i in range(5000): open(str(i), \"w\").close()'");
    await expect(policy.service.listFiles(id, "/workspace/many")).rejects.toMatchObject({ status: 400, message: "too many files" });
  });

  it.each([
    ["a newline", "a\\nb"],
    ["a carriage return", "a\\rb"],
    ["bytes that are not UTF-8", "\\377\\376"],
  ])("a listed name with %s is refused, naming it", async (_name, printf) => {
    const id = await policy.create(LIMITS);
    await policy.run(id, `mkdir -p /workspace/tree && printf x > "/workspace/tree/$(printf '${printf}')" && printf y > /workspace/tree/fine`);
    const error = await policy.service.listFiles(id, "/workspace/tree").then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toMatchObject({ status: 400 });
    expect((error as ApiError).detail).toMatch(/unacceptable path|not UTF-8/);
  });
});

/** The exec agent of a sandbox and its handlers, as host pids (children of the agent's nsenter). */
function agentHostPids(backend: LocalBackend, id: string): number[] {
  const nsenter = (backend as unknown as { sandboxes: Map<string, { agent: { pid: number } }> }).sandboxes.get(id)!.agent.pid;
  const children = (pid: number): number[] =>
    readdirSync(`/proc/${pid}/task`).flatMap((task) => readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(" ").filter(Boolean).map(Number));
  const agent = children(nsenter);
  return [...agent, ...agent.flatMap(children)];
}

const overHttp = needs("over HTTP: transfers from a hostile sandbox are bounded", LOCAL_SANDBOXES);
describe.skipIf(overHttp.skip)(overHttp.title, () => {
  /** A server (gone after each test) with a 1 MiB upload limit, a sandbox and a disk. */
  async function setup(args = ["--max-upload", "1MiB"]) {
    const server = await startServerProcess({ args: [...args, "--warm", "0"] });
    const sandbox = (await call(server, "POST", "/sandbox")).body.data.sandbox_id as string;
    const disk = (await call(server, "POST", "/disk")).body.data.id as string;
    return {
      server,
      sandbox,
      disk,
      upload: (sandboxPath: string, filename: string) =>
        call(server, "POST", `/disk/${disk}/artifact/upload_from_sandbox`, {
          sandbox_id: sandbox,
          sandbox_path: sandboxPath,
          sandbox_filename: filename,
          file_path: "/got/",
        }),
      exec: (command: string) => call(server, "POST", `/sandbox/${sandbox}/exec`, { command }),
      stored: async () => (await call(server, "GET", `/disk/${disk}/artifact/ls?path=/got/`)).body.data.artifacts,
      staged: () => readdir(join(server.dataDir, "tmp")),
    };
  }

  it("a FIFO, a device or a socket is refused with a 400, not read forever", async () => {
    const { exec, upload, stored } = await setup();
    await exec("mkfifo /workspace/pipe; python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"/workspace/sock\")'");
    for (const [dir, name] of [
      ["/workspace/", "pipe"],
      ["/dev/", "zero"],
      ["/dev/", "urandom"],
      ["/workspace/", "sock"],
    ]) {
      const answer = await upload(dir!, name!);
      expect(answer.status, name).toBe(400);
      expect(answer.body.msg, name).toBe("not a regular file");
    }
    expect(await stored()).toEqual([]);
  });

  it("a file over the upload limit, and one that lies about its size, are 413 and store nothing", async () => {
    const { exec, upload, stored, staged } = await setup();
    await exec("head -c 3000000 /dev/zero > /workspace/big");
    expect((await upload("/workspace/", "big")).status).toBe(413);
    // A regular file that says it holds 0 bytes and holds 512 GiB: the bytes are counted as they stream.
    expect((await exec("stat -c %s /proc/self/pagemap")).body.data.stdout).toBe("0\n");
    expect((await upload("/proc/self/", "pagemap")).status).toBe(413);
    expect(await stored()).toEqual([]);
    expect(await staged()).toEqual([]);
  });

  it("a file from a sandbox counts against its disk's quota: past it, a 413 that stores nothing", async () => {
    const { exec, upload, stored, staged } = await setup(["--max-upload", "8MiB", "--disk-quota", "3MiB"]);
    await exec("head -c 2000000 /dev/urandom > /workspace/one; cp /workspace/one /workspace/two");
    expect((await upload("/workspace/", "one")).status).toBe(201);
    const second = await upload("/workspace/", "two");
    expect(second.status).toBe(413);
    expect(second.body.msg).toBe("disk quota exceeded");
    expect((await stored()).map((artifact: { filename: string }) => artifact.filename)).toEqual(["one"]);
    expect(await staged()).toEqual([]);
  });

  it("a path with a NUL byte is a 400 on every transfer route", async () => {
    const { server, sandbox, disk, upload } = await setup();
    expect((await upload("/workspace\0/etc/", "passwd")).status).toBe(400);
    const form = new FormData();
    form.append("file_path", "/in/");
    form.append("file", new Blob(["x"]), "x");
    expect((await server.api(`/disk/${disk}/artifact`, { method: "POST", body: form })).status).toBe(201);
    const down = await call(server, "POST", `/disk/${disk}/artifact/download_to_sandbox`, {
      file_path: "/in/",
      filename: "x",
      sandbox_id: sandbox,
      sandbox_path: "/workspace\0/",
    });
    expect(down.status).toBe(400);
    const recursive = await call(server, "POST", `/disk/${disk}/artifact/upload_from_sandbox`, {
      sandbox_id: sandbox,
      sandbox_path: "/work\0space",
      file_path: "/",
      recursive: true,
    });
    expect(recursive.status).toBe(400);
  });

  it("an exec command over 1 MiB is a 400 and leaves no second exec agent running", async () => {
    const { server, sandbox, exec } = await setup();
    const huge = await call(server, "POST", `/sandbox/${sandbox}/exec`, { command: "x".repeat(1.2 * 1024 * 1024) });
    expect(huge.status).toBe(400);
    const agents = await exec(`${PS} | awk '$2 == 0 && $4 == "/agent.pl"' | wc -l`);
    expect(agents.body.data.stdout.trim()).toBe("1");
  });
});

const ownAddresses = hostAddresses().map((cidr) => cidr.replace("/32", ""));

const hostNetwork = needs("network sandboxes and the host's own addresses", LOCAL_SANDBOXES, SANDBOX_NETWORK, {
  ok: ownAddresses.length > 0,
  reason: "this host has no IPv4 address but loopback",
});
describe.skipIf(hostNetwork.skip)(hostNetwork.title, () => {
  let stateDir: string;
  let backend: LocalBackend;
  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "acontext-boundary-net-"));
    backend = new LocalBackend(stateDir, "net");
  });
  afterAll(async () => {
    await backend.killAll();
    await rm(stateDir, { recursive: true, force: true });
  });

  it(`cannot reach a host service bound to 0.0.0.0 through any of the host's addresses (${ownAddresses.join(", ")})`, async () => {
    const host = createServer((_req, res) => res.end("host"));
    await new Promise<void>((resolve) => host.listen(0, "0.0.0.0", resolve));
    const { port } = host.address() as { port: number };
    try {
      // Positive control: from the host itself, each address answers.
      for (const address of ownAddresses) expect(await (await fetch(`http://${address}:${port}/`)).text()).toBe("host");
      const id = `n${randomBytes(6).toString("hex")}`;
      await backend.create({ id, network: true, limits: LIMITS });
      const probe = `import socket, sys
for a in sys.argv[1:]:
    s = socket.socket(); s.settimeout(3)
    print(a, s.connect_ex((a, ${port})))`;
      const tried = await execIn(backend, id, `python3 -c '${probe}' ${ownAddresses.join(" ")} 0.0.0.0 224.0.0.1`);
      for (const line of tried.stdout.trim().split("\n")) expect(line).not.toMatch(/ 0$/);
      expect(tried.stdout.trim().split("\n")).toHaveLength(ownAddresses.length + 2);
    } finally {
      await new Promise((resolve) => host.close(resolve));
    }
  });
});

const fromServer = needs("what a sandbox could take from its server and its host", LOCAL_SANDBOXES);
describe.skipIf(fromServer.skip)(fromServer.title, () => {
  it("a descriptor the server inherited (a shell's, say) reaches no command in a sandbox", async () => {
    const dir = await mkdtemp(join(tmpdir(), "acontext-inherited-"));
    const secret = join(dir, "secret.txt");
    writeFileSync(secret, "inherited host secret\n");
    const fd = openSync(secret, "r");
    try {
      const server = await startServerProcess({ args: ["--warm", "0"], inherit: [fd, fd] });
      const sandbox = (await call(server, "POST", "/sandbox")).body.data.sandbox_id;
      // The command's shell holds stdio only: fds 3 and 4 of the server are not there.
      const look = await call(server, "POST", `/sandbox/${sandbox}/exec`, {
        command: "python3 -c \"import os; print(sorted(int(fd) for fd in os.listdir('/proc/%d/fd' % os.getppid())))\"",
      });
      expect(look.body.data.stdout).toBe("[0, 1, 2]\n");
    } finally {
      closeSync(fd);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!ROOT.ok)(
    needs("a sandbox that uses up its inotify instances leaves the host's root its own (per-user counts are charged to the sandbox's uid)", ROOT).title,
    async () => {
      const stateDir = await mkdtemp(join(tmpdir(), "acontext-ucounts-"));
      const backend = new LocalBackend(stateDir, "ucounts");
      try {
        const id = `u${randomBytes(6).toString("hex")}`;
        await backend.create({ id, network: false, limits: LIMITS });
        const hog = `import ctypes, time
libc = ctypes.CDLL(None, use_errno=True)
fds = [libc.inotify_init() for _ in range(400)]
print(sum(1 for fd in fds if fd >= 0), flush=True)
time.sleep(600)`;
        const held = execIn(backend, id, `python3 -c '${hog}'`);
        // The sandbox holds what it could get (128, the per-user limit) …
        let inSandbox = "";
        for (let look = 0; look < 200 && !/^\d+$/.test(inSandbox); look++) {
          inSandbox = (await execIn(backend, id, "for p in /proc/[0-9]*; do ls -l $p/fd 2>/dev/null; done | grep -c anon_inode:inotify")).stdout.trim();
          if (Number(inSandbox) < 100) inSandbox = "";
        }
        expect(Number(inSandbox)).toBeGreaterThanOrEqual(100);
        // … and root on the host can still make one: the counts are charged to the sandbox's own uid.
        const host = spawnSync("python3", ["-c", "import ctypes; libc = ctypes.CDLL(None, use_errno=True); print(libc.inotify_init() >= 0)"], {
          encoding: "utf8",
        });
        expect(host.stdout.trim()).toBe("True");
        await backend.kill(id);
        await held;
      } finally {
        await backend.killAll();
        await rm(stateDir, { recursive: true, force: true });
      }
    },
  );

  it("sockets of other address families than unix, inet, inet6 and netlink are refused (no vsock to the hypervisor)", async () => {
    const stateDir = await mkdtemp(join(tmpdir(), "acontext-families-"));
    const backend = new LocalBackend(stateDir, "families");
    try {
      const id = `f${randomBytes(6).toString("hex")}`;
      await backend.create({ id, network: false, limits: LIMITS });
      const probe = `import socket, errno
for family in (40, 17, 38, 1, 2, 10, 16):
    try:
        kind = socket.SOCK_DGRAM if family in (16, 17) else socket.SOCK_STREAM
        socket.socket(family, kind, 0 if family != 17 else 768).close(); print(family, "ok")
    except OSError as err:
        print(family, errno.errorcode[err.errno])`;
      const out = (await execIn(backend, id, `python3 -c '${probe}'`)).stdout.trim().split("\n");
      expect(out).toEqual(["40 EAFNOSUPPORT", "17 EAFNOSUPPORT", "38 EAFNOSUPPORT", "1 ok", "2 ok", "10 ok", "16 ok"]);
    } finally {
      await backend.killAll();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it("a flood of terminal resizes does not pile up in the server", async () => {
    const server = await startServerProcess({ args: ["--warm", "0"] });
    const sandbox = (await call(server, "POST", "/sandbox")).body.data.sandbox_id;
    const rssBefore = vmHwm(server.pid);
    const frames: Buffer[] = [];
    const resize = (rows: number) => {
      const body = Buffer.from(`${rows} 80`);
      const head = Buffer.alloc(5);
      head.write("w", 0, "latin1");
      head.writeUInt32BE(body.length, 1);
      return Buffer.concat([head, body]);
    };
    for (let i = 0; i < 200_000; i++) frames.push(resize(1 + (i % 200)));
    const flood = Buffer.concat(frames); // ~2.4 MB of resizes, sent 40 times: ~100 MB
    const body = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 40; i++) controller.enqueue(flood);
        controller.close();
      },
    });
    const answer = await server.api(`/sandbox/${sandbox}/exec`, {
      method: "POST",
      headers: {
        "content-type": "application/x-acontext-tty",
        "x-acontext-exec": JSON.stringify({ command: "stty size", tty: { rows: 24, cols: 80 } }),
        accept: "application/x-ndjson",
      },
      body,
      duplex: "half",
    } as RequestInit);
    expect(answer.status).toBe(200);
    await answer.text();
    expect(vmHwm(server.pid) - rssBefore).toBeLessThan(200 * 1024);
    // And the server still answers.
    expect((await call(server, "POST", `/sandbox/${sandbox}/exec`, { command: "echo fine" })).body.data.stdout).toBe("fine\n");
  });
});

/** Peak resident memory of a process, in KiB. */
function vmHwm(pid: number): number {
  return Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
}
