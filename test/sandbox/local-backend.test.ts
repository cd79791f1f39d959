// The local backend for real: sandboxes made of namespaces on this machine (root only). Each test
// creates its sandboxes in a temp state dir and kills them; the checks look at the host too.

import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { hostLayout } from "../../src/sandbox/local/host.js";
import { LocalBackend } from "../../src/sandbox/local/local-backend.js";
import { freePort } from "../helpers/cli.js";
import { CGROUPS, LOCAL_SANDBOXES, needs, ROOT, SANDBOX_NETWORK } from "../helpers/requirements.js";
import { execIn, forkUntilRefused, mountTablesMentioning, pidNamespaceOf, processesInNamespace, serviceOver } from "../helpers/sandbox.js";

const LIMITS = { memoryBytes: 512 * 1024 ** 2, pids: 256, cpus: 1, diskBytes: 256 * 1024 ** 2 };

const local = needs("local sandboxes", LOCAL_SANDBOXES);
describe.skipIf(local.skip)(local.title, () => {
  let stateDir: string;
  let backend: LocalBackend;
  const created: string[] = [];

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "acontext-sbx-test-"));
    backend = new LocalBackend(stateDir, "test");
  });
  afterEach(async () => {
    for (const id of created.splice(0)) await backend.kill(id);
  });
  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  async function sandbox(network = false): Promise<string> {
    const id = `t${randomBytes(6).toString("hex")}`;
    await backend.create({ id, network, limits: LIMITS });
    created.push(id);
    return id;
  }

  const run = (id: string, command: string, options: Parameters<typeof execIn>[3] = {}) => execIn(backend, id, command, options);
  /** `command` fails, for `reason` (a missing program or a typo fails too, and would pass a bare "not 0"). */
  const failsWith = async (id: string, command: string, reason: string) => {
    const result = await run(id, command);
    expect(result.exitCode, command).not.toBe(0);
    expect(result.stderr, command).toContain(reason);
  };
  /** The command lines of a sandbox's live processes (a killed one not yet reaped is a zombie: dead). */
  const liveProcesses = async (id: string) => {
    const listed = await run(id, "ps -e -o stat=,args=");
    expect(listed.exitCode, listed.stderr).toBe(0);
    const live = listed.stdout
      .split("\n")
      .filter((line) => line && !line.startsWith("Z"))
      .map((line) => line.replace(/^\S+\s+/, ""));
    expect(live).toContain("ps -e -o stat=,args="); // the listing saw itself
    return live;
  };

  it("runs commands as root of its own root filesystem, with python and /workspace", async () => {
    const id = await sandbox();
    expect(await run(id, "id -u; pwd")).toMatchObject({ exitCode: 0, stdout: "0\n/workspace\n" });
    expect((await run(id, "python3 -c 'print(sum(range(10)))'")).stdout).toBe("45\n");
    expect((await run(id, "ls /")).stdout.split("\n")).toEqual(expect.arrayContaining(["etc", "usr", "workspace", "tmp"]));
  });

  it("makes several sandboxes at once, each with its own root (and, as root, its own uid range)", async () => {
    const ids = await Promise.all(Array.from({ length: 10 }, () => sandbox()));
    const maps = await Promise.all(ids.map((id) => run(id, `cat /proc/self/uid_map; echo ${id} > /workspace/mine`)));
    // uid_map inside: "0 <first host uid> <count>": as root a range of its own for each; as a user, that user alone.
    const firstUids = new Set(maps.map((result) => result.stdout.trim().split(/\s+/)[1]));
    expect(firstUids.size).toBe(ROOT.ok ? ids.length : 1);
    for (const id of ids) expect((await run(id, "cat /workspace/mine")).stdout).toBe(`${id}\n`);
  });

  it("keeps state between execs: files and background processes", async () => {
    const id = await sandbox();
    await run(id, "echo kept > /workspace/state.txt; sleep 300 > /dev/null 2>&1 &");
    expect((await run(id, "cat /workspace/state.txt")).stdout).toBe("kept\n");
    expect((await run(id, "ps -e -o comm=")).stdout).toContain("sleep");
  });

  it("does not see the host's secrets, processes or files, and cannot change the host /usr", async () => {
    const id = await sandbox();
    await failsWith(id, "cat /etc/shadow", "No such file or directory");
    expect(await run(id, "ls -A /root")).toMatchObject({ exitCode: 0, stdout: "" });
    await failsWith(id, `ls ${stateDir}`, "No such file or directory");
    await failsWith(id, `kill -0 ${process.pid}`, "No such process");
    const hostLs = createHash("sha256").update(readFileSync("/usr/bin/ls")).digest("hex");
    // As root /usr is a copy-on-write layer of the sandbox's own; as a user it is read-only.
    expect((await run(id, "echo trojan >> /usr/bin/ls && echo appended")).stdout).toBe(ROOT.ok ? "appended\n" : "");
    expect(createHash("sha256").update(readFileSync("/usr/bin/ls")).digest("hex")).toBe(hostLs);
  });

  it("has no network: a server on the host's 127.0.0.1 is unreachable", async () => {
    const id = await sandbox();
    const server = createServer((_req, res) => res.end("host"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      const result = await run(id, `python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:${port}', timeout=2).read())"`);
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toContain("Connection refused"); // the sandbox's own loopback: nothing listens there
      expect(result.stdout).not.toContain("host");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }, 60_000);

  it.skipIf(!SANDBOX_NETWORK.ok)(
    needs("with network: tap0 through slirp4netns, DNS at 10.0.2.3, the host's loopback out of reach, and packets flow", SANDBOX_NETWORK).title,
    async () => {
      const id = await sandbox(true);
      const setup = await run(id, "ip -o -4 addr show tap0 | awk '{print $4}'; ip route | grep ^default; cat /etc/resolv.conf");
      expect(setup.stdout).toBe("10.0.2.100/24\ndefault via 10.0.2.2 dev tap0 \nnameserver 10.0.2.3\n");
      // Private ranges and cloud metadata are refused inside the sandbox (nothing leaves the machine),
      // and sandbox code cannot lift that.
      const fenced = await run(
        id,
        "for a in 169.254.169.254 192.168.1.1 172.17.0.1 10.1.2.3; do python3 -c \"import socket; print(socket.socket().connect_ex(('$a', 80)))\"; done; ip route del unreachable 169.254.0.0/16",
      );
      expect(fenced.stdout).toBe("113\n113\n113\n113\n");
      expect(fenced.exitCode).not.toBe(0);

      const host = createServer((_req, res) => res.end("host"));
      await new Promise<void>((resolve) => host.listen(0, "127.0.0.1", resolve));
      const { port } = host.address() as { port: number };
      try {
        for (const address of ["10.0.2.2", "127.0.0.1"]) {
          const tried = await run(id, `python3 -c "import urllib.request; print(urllib.request.urlopen('http://${address}:${port}', timeout=2).read())"`);
          expect(tried.exitCode, address).not.toBe(0);
        }
      } finally {
        await new Promise((resolve) => host.close(resolve));
      }

      // Packets both ways, on loopback only: forward a host port to a server in the sandbox
      // through slirp4netns's API socket, and fetch from it.
      await run(id, "mkdir -p /srv/www && echo from-the-sandbox > /srv/www/index.txt && cd /srv/www && nohup python3 -m http.server 8000 >/dev/null 2>&1 &");
      const dir = join(stateDir, "sb", "test", id);
      // Until the server in the sandbox listens (asked inside the sandbox).
      while (!(await run(id, "ss -Hltn 'sport = :8000'")).stdout.trim());
      const hostPort = await freePort();
      const api = await new Promise<string>((resolve, reject) => {
        const socket = connect(join(dir, "slirp.sock"));
        socket.once("error", reject);
        let answer = "";
        socket.on("data", (chunk) => (answer += chunk));
        socket.once("end", () => resolve(answer));
        socket.end(JSON.stringify({ execute: "add_hostfwd", arguments: { proto: "tcp", host_addr: "127.0.0.1", host_port: hostPort, guest_port: 8000 } }));
      });
      expect(api).toContain("return");
      const body = await (await fetch(`http://127.0.0.1:${hostPort}/index.txt`)).text();
      expect(body).toBe("from-the-sandbox\n");

      await backend.kill(created.pop()!);
      expect(spawnSync("pgrep", ["-f", `slirp4netns.*${dir}`]).status).toBe(1);
    },
    60_000,
  );

  it("passes exit codes and stdin through, caps output, and kills a command at its timeout", async () => {
    const id = await sandbox();
    expect((await run(id, "exit 42")).exitCode).toBe(42);
    expect((await run(id, "kill -9 $$")).exitCode).toBe(137);
    expect((await run(id, "wc -l", { stdin: Readable.from(["a\nb\n", "c\n"]) })).stdout.trim()).toBe("3");
    // A command that exits without reading its stdin: the exit status still arrives, every time.
    for (let i = 0; i < 20; i++) {
      expect((await run(id, "exit 3", { stdin: Readable.from([Buffer.alloc(1024 ** 2)]) })).exitCode).toBe(3);
    }
    // The policy (caps, timeouts) is the service's, over any backend.
    const policy = serviceOver(backend);
    try {
      const managed = await policy.create(LIMITS);
      created.push(managed);
      const flood = await policy.run(managed, "yes | head -c 100000", { maxOutputBytes: 1000 });
      expect(flood.stdout.length).toBeLessThan(1200);
      expect(flood.stdout).toContain("[acontext: stdout truncated after 1000 bytes]");
      const slow = await policy.run(managed, "trap '' TERM; sleep 30", { timeoutSeconds: 0.5 });
      expect(slow).toMatchObject({ exitCode: 124, timedOut: true });
      expect(slow.stderr).toContain("timeout");
      expect(await liveProcesses(managed)).not.toContain("sleep 30");
      // Stdin the command never reads fills every buffer on the way; the timeout still kills it.
      const stuck = await policy.run(managed, "sleep 31", { timeoutSeconds: 0.5, stdin: Readable.from([Buffer.alloc(8 * 1024 ** 2)]) });
      expect(stuck).toMatchObject({ exitCode: 124, timedOut: true });
      expect(await liveProcesses(managed)).not.toContain("sleep 31");
    } finally {
      await policy.close();
    }
  });

  it("runs a command on a terminal: its size, a resize, typed input, Ctrl-C as a signal", async () => {
    const id = await sandbox();
    const stdin = new PassThrough();
    let resize: (size: { rows: number; cols: number }) => void = () => {};
    let output = "";
    const seen: Array<{ pattern: RegExp; found: () => void }> = [];
    const waitFor = (pattern: RegExp) => new Promise<void>((found) => (pattern.test(output) ? found() : seen.push({ pattern, found })));
    const script = [
      'tty; stty size; read line; echo "got:$line"',
      "trap 'echo interrupted; stty size; exit 3' INT",
      "echo waiting; while :; do sleep 0.1; done",
    ].join("\n");
    const result = backend.exec(id, {
      command: script,
      stdin,
      tty: { rows: 30, cols: 100, onResize: (listener) => (resize = listener) },
      onOutput: (stream, chunk) => {
        expect(stream).toBe("stdout"); // a terminal has one output
        output += chunk.toString();
        for (const waiter of seen.filter((w) => w.pattern.test(output))) {
          seen.splice(seen.indexOf(waiter), 1);
          waiter.found();
        }
      },
    });
    await waitFor(/^\/dev\/pts\/\d+\r\n30 100\r\n/);
    stdin.write("hello\r"); // Enter on a terminal; the line discipline makes it \n
    await waitFor(/got:hello\r\n[\s\S]*waiting\r\n/);
    resize({ rows: 40, cols: 120 });
    stdin.write("\x03"); // Ctrl-C: SIGINT to the command's process group
    expect(await result).toBe(3);
    expect(output).toMatch(/interrupted\r\n40 120\r\n$/);
  });

  it("an exec agent killed from inside is started again; the exec that killed it says so", async () => {
    const policy = serviceOver(backend);
    try {
      const id = await policy.create(LIMITS);
      created.push(id);
      await run(id, "sleep 1000 > /dev/null 2>&1 &");
      // The backend reports the command as lost; the service turns that into 137 and a note.
      const killer = await policy.run(id, "kill -9 -1; sleep 1");
      expect(killer.exitCode).toBe(137);
      expect(killer.stderr).toContain("exec agent was killed");
      expect(await run(id, "echo again; pgrep -fx 'sleep 1000' || echo none")).toMatchObject({ exitCode: 0, stdout: "again\nnone\n" });
      expect((await run(id, "kill -9 -1; sleep 1")).exitCode).toBeNull();
    } finally {
      await policy.close();
    }
  });

  it("moves files in and out inside its own root, binary-safe; a planted symlink cannot reach the host", async () => {
    const id = await sandbox();
    const bytes = randomBytes(300_000);
    await backend.writeFile(id, "/workspace/in/data.bin", Readable.from([bytes]));
    expect((await run(id, "wc -c < /workspace/in/data.bin")).stdout.trim()).toBe(String(bytes.length));
    const file = await backend.readFile(id, "/workspace/in/data.bin");
    expect(file.size).toBe(bytes.length);
    const back: Buffer[] = [];
    for await (const chunk of file.stream) back.push(chunk as Buffer);
    expect(Buffer.concat(back).equals(bytes)).toBe(true);

    await run(id, `ln -s /etc/shadow /workspace/evil; ln -s ${join(stateDir, "sb")} /workspace/evil2`);
    await expect(backend.readFile(id, "/workspace/evil")).rejects.toMatchObject({ code: "not-found" });
    await expect(backend.readFile(id, "/workspace/evil2")).rejects.toMatchObject({ code: "not-found" });
    await run(id, "ln -sf /tmp/acontext-written-outside /workspace/out-link");
    await backend.writeFile(id, "/workspace/out-link", Readable.from(["escaped?"]));
    expect(() => readFileSync("/tmp/acontext-written-outside")).toThrow(/ENOENT/);
    expect((await run(id, "cat /tmp/acontext-written-outside")).stdout).toBe("escaped?");
  });

  it("refuses to read or write anything but a regular file, without running a program of the sandbox", async () => {
    const id = await sandbox();
    // Programs a transfer must not need: the agent reads, writes and lists itself.
    await run(id, "mkfifo /workspace/fifo; for p in cat mkdir dirname find; do printf '#!/bin/sh\\nexit 99\\n' > /usr/bin/$p; done");
    await expect(backend.readFile(id, "/workspace/fifo")).rejects.toMatchObject({ code: "not-regular" });
    await expect(backend.readFile(id, "/dev/zero")).rejects.toMatchObject({ code: "not-regular" });
    await expect(backend.readFile(id, "/workspace")).rejects.toMatchObject({ code: "not-regular" });
    await expect(backend.writeFile(id, "/dev/null", Readable.from(["x"]))).rejects.toMatchObject({ code: "not-regular" });
    await backend.writeFile(id, "/workspace/deep/er/file.txt", Readable.from(["written"]));
    const file = await backend.readFile(id, "/workspace/deep/er/file.txt");
    expect((await file.stream.toArray()).join("")).toBe("written");
    await run(id, "ln -s /etc /workspace/deep/link; printf 12345 > '/workspace/deep/a name'");
    const listed = [];
    for await (const batch of backend.listFiles(id, "/workspace")) listed.push(...batch.map((entry) => `${entry.path.toString()}:${entry.size}`));
    expect(listed.sort()).toEqual(["deep/a name:5", "deep/er/file.txt:7"]);
    await expect(collect(backend.listFiles(id, "/workspace/nope"))).rejects.toMatchObject({ code: "not-found" });
  });

  it("runs every exec under the seccomp filter, without capabilities beyond its own namespace", async () => {
    const id = await sandbox();
    const status = (await run(id, "cat /proc/self/status")).stdout;
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).toMatch(/^Seccomp:\s+2$/m);
    expect(status).toMatch(/^CapEff:\s+00000000a00405fb$/m);
    const syscalls = `import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
for name, nr in [("keyctl", 250), ("bpf", 321), ("io_uring_setup", 425), ("unshare_user", 272)]:
    arg = 0x10000000 if name == "unshare_user" else 0
    r = libc.syscall(nr, arg, 0, 0, 0, 0)
    print(name, r, errno.errorcode.get(ctypes.get_errno()))`;
    const out = (await run(id, `python3 -c '${syscalls}'`)).stdout;
    expect(out).toContain("keyctl -1 EPERM");
    expect(out).toContain("bpf -1 EPERM");
    expect(out).toContain("io_uring_setup -1 EPERM");
    expect(out).toContain("unshare_user -1 EPERM");
    expect((await run(id, "unshare -U true")).exitCode).not.toBe(0);
    expect((await run(id, "mount -t tmpfs none /mnt")).exitCode).not.toBe(0);
    // Ordinary programs still work: threads, subprocesses, pipes.
    expect(
      (
        await run(
          id,
          "python3 -c 'import threading, subprocess; t=threading.Thread(target=print, args=(1,)); t.start(); t.join(); print(subprocess.run([\"echo\", \"2\"], capture_output=True).stdout.decode().strip())' | tr '\\n' ' '",
        )
      ).stdout.trim(),
    ).toBe("1 2");
  });

  it("a sandbox whose PID 1 dies on its own is cleaned up", async () => {
    const id = `t${randomBytes(6).toString("hex")}`;
    await backend.create({ id, network: false, limits: LIMITS });
    const initPid = (backend as unknown as { sandboxes: Map<string, { initPid: number }> }).sandboxes.get(id)!.initPid;
    const cgroup = join("/sys/fs/cgroup/pids/acontext", id);
    expect(existsSync(cgroup)).toBe(CGROUPS.ok);
    process.kill(initPid, "SIGKILL"); // as the OOM killer would
    while ((await readdir(join(stateDir, "sb", "test"))).includes(id)) await new Promise((r) => setTimeout(r, 20));
    expect(await backend.status(id)).toBe("gone");
    expect(existsSync(cgroup)).toBe(false);
    await expect(backend.exec(id, { command: "true" })).rejects.toThrow("is not running");
  });

  it("kill leaves no process, mount, cgroup or directory behind", async () => {
    const id = `t${randomBytes(6).toString("hex")}`;
    await backend.create({ id, network: false, limits: LIMITS });
    await run(id, "sleep 300 > /dev/null 2>&1 &");
    expect(await backend.status(id)).toBe("running");
    // What there is before (so that each "nothing left" below could fail): …
    const initPid = (backend as unknown as { sandboxes: Map<string, { initPid: number }> }).sandboxes.get(id)!.initPid;
    const namespace = pidNamespaceOf(initPid)!;
    const cgroups = ["memory", "pids", "cpu", "freezer"].map((controller) => join("/sys/fs/cgroup", controller, "acontext", id));
    expect(processesInNamespace(namespace)).toBeGreaterThanOrEqual(3); // PID 1, the exec agent, the sleep
    expect(mountTablesMentioning(join(stateDir, "sb", "test", id))).toBeGreaterThan(0);
    expect(await readdir(join(stateDir, "sb", "test"))).toContain(id);
    expect(await claimsUnder(stateDir)).toHaveLength(ROOT.ok ? 1 : 0);
    const withCgroups = cgroups.filter((dir) => existsSync(dir));
    if (CGROUPS.ok) expect(withCgroups.length).toBeGreaterThanOrEqual(4);
    else expect(withCgroups).toEqual([]);
    // … and none of it after.
    await backend.kill(id);
    expect(await backend.status(id)).toBe("gone");
    expect(processesInNamespace(namespace)).toBe(0);
    expect(mountTablesMentioning(join(stateDir, "sb", "test", id))).toBe(0);
    expect(await readdir(join(stateDir, "sb", "test"))).not.toContain(id);
    expect(await claimsUnder(stateDir)).toEqual([]);
    expect(cgroups.filter((dir) => existsSync(dir))).toEqual([]);
    await expect(backend.exec(id, { command: "true" })).rejects.toThrow("is not running");
  });
});

const warm = needs("warm local sandboxes", LOCAL_SANDBOXES);
describe.skipIf(warm.skip)(warm.title, () => {
  let stateDir: string;
  let backend: LocalBackend;
  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "acontext-sbx-warm-"));
    backend = new LocalBackend(stateDir, "warm", { warm: 1 });
  });
  afterAll(async () => {
    await backend.killAll();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("a create takes a sandbox made ahead with the same limits, fresh; killAll removes the warm ones too", async () => {
    const small = { ...LIMITS, diskBytes: 64 * 1024 ** 2 };
    const large = { ...LIMITS, diskBytes: 128 * 1024 ** 2 };
    const [cold, warm, other, warmOther] = ["a", "b", "c", "d"].map((p) => `${p}${randomBytes(6).toString("hex")}`) as [string, string, string, string];
    const run = (id: string, command: string) => execIn(backend, id, command);
    const folders = () => readdir(join(stateDir, "sb", "warm"));
    const diskMiB = async (id: string) => (await run(id, "df -B1M --output=size /workspace | tail -1")).stdout.trim();

    await backend.create({ id: cold, network: false, limits: small });
    await run(cold, "echo cold > /workspace/mark");
    await backend.create({ id: warm, network: false, limits: small });
    // Made ahead under a name of its own, and nothing of the first one in it.
    expect(await folders()).toContain(cold);
    expect(await folders()).not.toContain(warm);
    expect(await run(warm, "ls -A /workspace; id -u")).toMatchObject({ exitCode: 0, stdout: "0\n" });
    expect(await diskMiB(warm)).toBe("64");

    // Other limits: made on the spot, and from then on those are kept warm.
    await backend.create({ id: other, network: false, limits: large });
    expect(await folders()).toContain(other);
    expect(await diskMiB(other)).toBe("128");
    await backend.create({ id: warmOther, network: false, limits: large });
    expect(await folders()).not.toContain(warmOther);
    expect(await diskMiB(warmOther)).toBe("128");

    const keys = await folders();
    const cgroups = keys.map((key) => join("/sys/fs/cgroup/pids/acontext", key));
    // Before: a folder, a uid range (as root) and cgroups (where there are) for each, the warm ones too.
    expect(keys.length).toBeGreaterThanOrEqual(4);
    // (A warm one may be still in the making, or a stale one going: its folder, claim and cgroups
    // come and go apart; the four sandboxes above have all three.)
    const claims = await claimsUnder(stateDir);
    if (ROOT.ok) expect(claims.length).toBeGreaterThanOrEqual(4);
    else expect(claims).toEqual([]);
    const withCgroups = cgroups.filter((dir) => existsSync(dir));
    if (CGROUPS.ok) expect(withCgroups.length).toBeGreaterThanOrEqual(4);
    else expect(withCgroups).toEqual([]);
    await backend.killAll();
    // Every sandbox's folder, and then this server's own folder, are gone.
    await expect(folders()).rejects.toThrow(/ENOENT/);
    expect(await claimsUnder(stateDir)).toEqual([]);
    expect(cgroups.filter((dir) => existsSync(dir))).toEqual([]);
  });
});

const withoutCgroups = needs("local sandboxes on a host without cgroup v1 controllers", LOCAL_SANDBOXES, ROOT);
describe.skipIf(withoutCgroups.skip)(withoutCgroups.title, () => {
  let stateDir: string;
  let backend: LocalBackend;
  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "acontext-sbx-nocg-"));
    backend = new LocalBackend(stateDir, "nocg", { cgroupRoot: join(stateDir, "no-cgroups-here") });
  });
  afterAll(async () => {
    await backend.killAll();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("hold processes and memory with rlimits instead, and say so", async () => {
    expect(backend.limits).toMatchObject({ memory: "rlimit per process (RLIMIT_DATA)", pids: "rlimit per sandbox (RLIMIT_NPROC)" });
    expect(backend.limits.cpu).toContain("not enforced");
    const id = `n${randomBytes(6).toString("hex")}`;
    await backend.create({ id, network: false, limits: { ...LIMITS, pids: 32, memoryBytes: 128 * 1024 ** 2 } });
    const run = (command: string) => execIn(backend, id, command);
    expect((await run("python3 -c 'bytearray(256 * 1024 * 1024)' 2>&1 | tail -1")).stdout).toBe("MemoryError\n");
    const { started, processes } = await forkUntilRefused(run, 60);
    expect(started).toBeLessThan(60); // refused before all were made…
    expect(processes).toBeGreaterThanOrEqual(32 - 8); // …at the limit…
    expect(processes).toBeLessThanOrEqual(32); // …and no further
    expect((await run("echo still fine")).stdout).toBe("still fine\n");
  });
});

async function collect<T>(batches: AsyncIterable<T[]>): Promise<T[]> {
  const all: T[] = [];
  for await (const batch of batches) all.push(...batch);
  return all;
}

/** The uid ranges (machine-wide claims, as root) still held by sandboxes under `stateDir`. */
async function claimsUnder(stateDir: string): Promise<string[]> {
  const claims = hostLayout(stateDir).uidClaims;
  const held = await readdir(claims).catch(() => []);
  const owners = await Promise.all(held.map(async (index) => [index, await readFile(join(claims, index), "utf8").catch(() => "")] as const));
  return owners.filter(([, dir]) => dir.startsWith(stateDir)).map(([index]) => index);
}
