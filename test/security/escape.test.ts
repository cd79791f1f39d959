// Escape and abuse attempts against local sandboxes, each asserting that it fails; then
// containment: a sandbox that misbehaves stays inside its limits and the host stays usable.
// Runs where this machine can make sandboxes (root, user namespaces). Traffic goes to loopback only.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { SandboxLimits } from "../../src/sandbox/backend.js";
import { LocalBackend } from "../../src/sandbox/local/local-backend.js";
import { ManualClock } from "../helpers/clock.js";
import { CGROUPS, LOCAL_SANDBOXES, needs, ROOT } from "../helpers/requirements.js";
import { execIn, pidNamespaceOf, processesInNamespace, serviceOver } from "../helpers/sandbox.js";

const LIMITS: SandboxLimits = { memoryBytes: 256 * 1024 ** 2, pids: 64, cpus: 0.5, diskBytes: 64 * 1024 ** 2 };

const attempts = needs("escape attempts", LOCAL_SANDBOXES);
describe.skipIf(attempts.skip)(attempts.title, () => {
  let stateDir: string;
  let backend: LocalBackend;
  let a: string;
  let b: string;
  const secret = join(tmpdir(), `acontext-host-secret-${randomBytes(4).toString("hex")}`);
  const servers: Server[] = [];

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "acontext-security-"));
    backend = new LocalBackend(stateDir, "security");
    writeFileSync(secret, "host secret\n", { mode: 0o644 });
    a = `a${randomBytes(6).toString("hex")}`;
    b = `b${randomBytes(6).toString("hex")}`;
    await backend.create({ id: a, network: false, limits: LIMITS });
    await backend.create({ id: b, network: false, limits: LIMITS });
  });
  afterAll(async () => {
    await backend.killAll();
    for (const server of servers) server.close();
    rmSync(secret, { force: true });
    await rm(stateDir, { recursive: true, force: true });
  });

  const run = (id: string, command: string, options: Parameters<typeof execIn>[3] = {}) => execIn(backend, id, command, options);
  /** `command` fails, and for `reason` (not for a missing program or a typo: that would pass any check of "it failed"). */
  const fails = async (command: string, reason: RegExp, id = a) => {
    const result = await run(id, command);
    expect(result.exitCode, command).not.toBe(0);
    expect(result.stderr, command).toMatch(reason);
  };
  /** `command` succeeds and prints this (an empty listing is only empty if the listing ran). */
  const prints = async (command: string, id = a) => {
    const result = await run(id, command);
    expect(result.exitCode, `${command}: ${result.stderr}`).toBe(0);
    return result.stdout;
  };
  const NO_FILE = /No such file or directory/;
  const REFUSED = /ConnectionRefusedError/;

  // --- host secrets and files ---
  it("1. cannot read a file planted on the host", () => fails(`cat ${secret}`, NO_FILE));
  it("2. has no /etc/shadow", () => fails("cat /etc/shadow", NO_FILE));
  it("3. sees an empty /root, not the host's", async () => expect(await prints("ls -A /root")).toBe(""));
  it("4. cannot see the state dir or any data dir", () => fails(`ls ${stateDir}`, NO_FILE));
  it("5. has an empty /sys and no host block devices", async () => {
    expect(await prints("ls -A /sys")).toBe("");
    expect((await prints("ls /dev")).split("\n").filter(Boolean).sort()).toEqual([
      "fd",
      "full",
      "null",
      "ptmx",
      "pts",
      "random",
      "shm",
      "stderr",
      "stdin",
      "stdout",
      "tty",
      "urandom",
      "zero",
    ]);
  });

  // --- writing outside ---
  it("6. cannot write into the read-only helper tree /.sbx", () => fails("echo x > /.sbx/usr/bin/acontext-probe", /Read-only file system/));
  it("7. cannot remount /.sbx read-write", () => fails("mount -o remount,rw /.sbx/usr", /permission denied/));
  it("8. changes to /usr stay in the sandbox", async () => {
    const before = createHash("sha256").update(readFileSync("/usr/bin/env")).digest("hex");
    // As root /usr is a copy-on-write layer of the sandbox's own; as a user it is read-only.
    expect((await run(a, "echo trojan >> /usr/bin/env && echo ok")).stdout).toBe(ROOT.ok ? "ok\n" : "");
    expect(createHash("sha256").update(readFileSync("/usr/bin/env")).digest("hex")).toBe(before);
  });

  // --- processes ---
  it("9. cannot see or signal a host process", () => fails(`kill -0 ${process.pid}`, /No such process/));
  it("10. sees only its own few processes", async () => {
    const list = await prints("ps -e -o comm=");
    expect(list).toMatch(/^ps$/m); // the listing itself is in it
    expect(list).not.toMatch(/node|vitest/);
    expect(list.trim().split("\n").length).toBeLessThan(10);
  });
  it("11. survives an attempt to kill its PID 1", async () => {
    await run(a, "kill -TERM 1; kill -KILL 1");
    expect((await run(a, "echo alive")).stdout).toBe("alive\n");
  });

  // --- network ---
  it("12. cannot reach a server the test runs on the host's 127.0.0.1", async () => {
    const server = createHttpServer((_req, res) => res.end("host"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      await fails(`python3 -c "import socket; socket.create_connection(('127.0.0.1', ${port}), timeout=2)"`, REFUSED);
    } finally {
      server.close();
    }
  });
  it("13. cannot connect to a host abstract unix socket", async () => {
    const name = `acontext-test-${randomBytes(4).toString("hex")}`;
    const server = createServer(() => {});
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(`\0${name}`, resolve));
    // Positive control: the same connection from the host works.
    const { connect } = await import("node:net");
    await new Promise<void>((resolve, reject) =>
      connect(`\0${name}`)
        .once("connect", function (this: import("node:net").Socket) {
          this.destroy();
          resolve();
        })
        .once("error", reject),
    );
    await fails(`python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.connect('\\0${name}')"`, REFUSED);
  });
  it("14. cannot reach another sandbox's server on its 127.0.0.1", async () => {
    await run(b, "python3 -m http.server 9000 --bind 127.0.0.1 > /dev/null 2>&1 &");
    // Positive control: from inside b, b's own server answers (waiting for it to start).
    const up = await run(
      b,
      "python3 -c \"import socket,time\nfor i in range(400):\n  try: socket.create_connection(('127.0.0.1', 9000), timeout=1); print('up'); break\n  except OSError: time.sleep(0.025)\"",
    );
    expect(up.stdout).toBe("up\n");
    await fails(`python3 -c "import socket; socket.create_connection(('127.0.0.1', 9000), timeout=2)"`, REFUSED, a);
  });
  it("15. has only a loopback interface, no route and no resolver", async () => {
    expect(await prints("ip -o link | awk -F': ' '{print $2}'")).toBe("lo\n");
    expect(await prints("ip route")).toBe("");
    expect(await prints("cat /etc/resolv.conf")).toBe("");
  });

  // --- kernel surface ---
  it("16. cannot mount", () => fails("mount -t tmpfs none /mnt", /permission denied/));
  it("17. cannot unmount its overlays to look beneath", () => fails("umount /usr", /must be superuser|not permitted|permission denied/));
  it("18. cannot make new namespaces", async () => {
    await fails("unshare -U true", /Operation not permitted/);
    await fails("unshare -n true", /Operation not permitted/);
    await fails("unshare -m true", /Operation not permitted/);
  });
  it("19. cannot make device nodes", () => fails("mknod /tmp/sda b 8 0", /Operation not permitted/));
  it("20. cannot write /proc/sys", () => fails("echo '|/tmp/x' > /proc/sys/kernel/core_pattern", /Read-only file system/));
  it("21. cannot read the kernel log", () => fails("dmesg", /Operation not permitted/));
  it("22. keyctl, bpf and io_uring are denied", async () => {
    const probe = `import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
for nr in (250, 321, 425):
    print(libc.syscall(nr, 0, 0, 0, 0, 0), errno.errorcode.get(ctypes.get_errno()))`;
    expect((await run(a, `python3 -c '${probe}'`)).stdout).toBe("-1 EPERM\n-1 EPERM\n-1 EPERM\n");
  });
  it.skipIf(!ROOT.ok)(needs("23. a setuid binary gives nothing (no_new_privs)", ROOT).title, async () => {
    const result = await run(a, "cp /usr/bin/id /tmp/suid-id && chmod 4755 /tmp/suid-id && setpriv --reuid=1000 --regid=1000 --clear-groups /tmp/suid-id -u");
    expect(result.stdout).toBe("1000\n");
  });
  it("24. a classic chroot escape lands in the sandbox's own root", async () => {
    const chrootEscape =
      "mkdir -p /tmp/jail && cd / && python3 -c \"import os; os.chroot('/tmp/jail'); os.chdir('../../../..'); os.chroot('.'); print(sorted(os.listdir('/')))\"";
    const listing = (await run(a, chrootEscape)).stdout;
    expect(listing).toContain("'workspace'");
    expect(listing).not.toContain(stateDir.split("/").pop());
  });

  // --- the exec path ---
  it("25. trojaned helpers and ld.so.preload, then a killed exec agent: the restarted agent and the next exec are clean", async () => {
    const helpers = "/usr/bin/setpriv /usr/sbin/chroot /usr/bin/prlimit /usr/bin/perl /usr/bin/nsenter";
    const planted = await run(
      a,
      [
        `for f in ${helpers}; do printf '#!/bin/sh\\necho TROJAN > /workspace/trojan-ran\\nexec sh "$@"\\n' > $f; chmod 755 $f; done`,
        "echo /workspace/evil.so > /etc/ld.so.preload",
        // The agent (and this exec's own handler) die: the next exec has to start a new one.
        "kill -9 -1",
      ].join("; "),
    );
    expect(planted.exitCode, "the exec agent was killed").toBeNull();
    // The trap is set (as root, /usr is the sandbox's own to change; as a user it is read-only).
    expect(await prints(`grep -l TROJAN ${helpers} 2>/dev/null; cat /etc/ld.so.preload`)).toBe(
      ROOT.ok ? `${helpers.split(" ").join("\n")}\n/workspace/evil.so\n` : "/workspace/evil.so\n",
    );
    const status = (await run(a, "cat /proc/self/status; ls /workspace")).stdout;
    expect(status).toMatch(/^CapEff:\s+00000000a00405fb$/m);
    expect(status).toMatch(/^Seccomp:\s+2$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).not.toContain("trojan-ran");
  });
  it("26. the exec agent holds nothing a command does not: same capabilities, filter, limits, cgroup", async () => {
    const fields = /^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):.*$/gm;
    const agent = (
      await run(
        b,
        "for p in /proc/[0-9]*; do grep -qs agent.pl $p/cmdline && [ \"$(cat $p/stat | cut -d' ' -f4)\" = 0 ] && cat $p/status $p/limits $p/cgroup; done",
      )
    ).stdout;
    const command = (await run(b, "cat /proc/self/status /proc/self/limits /proc/self/cgroup")).stdout;
    expect(agent.match(fields)).toEqual(command.match(fields));
    expect(agent.match(fields)).toHaveLength(9);
    const limitsOf = (text: string) => text.split("\n").filter((line) => /^Max (open files|core file size)/.test(line));
    expect(limitsOf(agent)).toEqual(limitsOf(command));
    const cgroupsOf = (text: string) =>
      text
        .split("\n")
        .filter((line) => /^\d+:[a-z,_]+:/.test(line))
        .sort();
    expect(cgroupsOf(agent)).toEqual(cgroupsOf(command));
  });
  it("27. the exec agent's socket is nowhere in the sandbox's file tree", async () => {
    const look = "find / -xdev -type s 2>/dev/null; find /tmp /run /workspace /.sbx -name 'agent.sock*' 2>/dev/null";
    // Positive control: sockets planted where each search looks are found.
    await prints(`python3 -c "import socket; [socket.socket(socket.AF_UNIX).bind(p) for p in ('/tmp/probe.sock', '/workspace/agent.sock.probe')]"`, b);
    const found = (await run(b, look)).stdout.split("\n").filter(Boolean);
    expect([...new Set(found)].sort()).toEqual(["/tmp/probe.sock", "/workspace/agent.sock.probe"]);
    await prints("rm /tmp/probe.sock /workspace/agent.sock.probe", b);
    expect((await run(b, look)).stdout).toBe("");
  });
  // --- other sandboxes ---
  it("29. cannot see another sandbox's files or processes", async () => {
    await prints("echo b-secret > /workspace/b-only.txt; sleep 2929 > /dev/null 2>&1 &", b);
    expect(await prints("cat /workspace/b-only.txt", b)).toBe("b-secret\n");
    expect(await prints("ps -e -o args=", b)).toContain("sleep 2929");
    await fails("cat /workspace/b-only.txt", NO_FILE, a);
    const seen = await prints("ps -e -o args=", a);
    expect(seen).toContain("ps -e -o args=");
    expect(seen).not.toContain("sleep 2929");
  });
  it.skipIf(!ROOT.ok)(needs("30. runs as a different host uid range than the other sandbox", ROOT).title, async () => {
    // A process of each, found on the host by its unique command line; root inside is the first uid of the range.
    const ranges: Array<{ first: number; end: number }> = [];
    for (const [id, mark] of [
      [a, `sleep ${300_000 + randomBytes(2).readUInt16BE()}`],
      [b, `sleep ${400_000 + randomBytes(2).readUInt16BE()}`],
    ] as const) {
      const [first, count] = (await prints(`${mark} > /dev/null 2>&1 & cat /proc/self/uid_map`, id)).trim().split(/\s+/).slice(1).map(Number) as [
        number,
        number,
      ];
      expect(first).toBeGreaterThanOrEqual(1_000_000);
      const hostUids = () =>
        spawnSync("ps", ["-eo", "uid=,args="], { encoding: "utf8" })
          .stdout.split("\n")
          .filter((line) => line.trim().endsWith(mark))
          .map((line) => Number(line.trim().split(/\s+/)[0]));
      await vi.waitFor(() => expect(hostUids()).toEqual([first]));
      ranges.push({ first, end: first + count });
    }
    const [low, high] = ranges.sort((x, y) => x.first - y.first) as [{ first: number; end: number }, { first: number; end: number }];
    expect(high.first, JSON.stringify(ranges)).toBeGreaterThanOrEqual(low.end);
  });

  // --- transfers ---
  it("31. file transfers resolve symlinks inside the sandbox, in both directions", async () => {
    await run(a, `ln -sf ${secret} /workspace/to-host-secret; ln -sf /tmp/acontext-host-target /workspace/write-link`);
    await expect(backend.readFile(a, "/workspace/to-host-secret")).rejects.toMatchObject({ code: "not-found" });
    await backend.writeFile(a, "/workspace/write-link", Readable.from(["from the sandbox"]));
    expect(existsSync("/tmp/acontext-host-target")).toBe(false);
    expect((await run(a, "cat /tmp/acontext-host-target")).stdout).toBe("from the sandbox");
  });
});

const containment = needs("containment", LOCAL_SANDBOXES);
describe.skipIf(containment.skip)(containment.title, () => {
  let stateDir: string;
  let backend: LocalBackend;
  let policy: ReturnType<typeof serviceOver>;
  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "acontext-containment-"));
    backend = new LocalBackend(stateDir, "containment");
    policy = serviceOver(backend);
  });
  afterAll(async () => {
    await backend.killAll();
    await policy.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  const fresh = () => policy.create(LIMITS);
  const run = (id: string, command: string, options: Parameters<typeof policy.run>[2] = {}) => policy.run(id, command, options);

  it("a fork bomb is held at the pids limit while it runs; the host still forks; kill ends it", async () => {
    const id = await fresh();
    const initPid = (backend as unknown as { sandboxes: Map<string, { initPid: number }> }).sandboxes.get(id)!.initPid;
    const bomb = run(id, "bomb() { bomb | bomb & }; bomb", { timeoutSeconds: 3 });
    // Counted from the host while it runs: every process in the sandbox's pid namespace.
    let most = 0;
    for (let look = 0; look < 2000 && most < LIMITS.pids - 8; look++) {
      await new Promise((resolve) => setImmediate(resolve)); // the exec runs meanwhile
      most = Math.max(most, processesIn(initPid));
    }
    expect(most).toBeGreaterThanOrEqual(LIMITS.pids - 8); // the bomb really ran into the limit…
    expect(most).toBeLessThanOrEqual(LIMITS.pids); // …and no further
    expect(spawnSync("true").status).toBe(0);
    await bomb;
    await backend.kill(id);
    expect(existsSync(`/sys/fs/cgroup/pids/acontext/${id}`)).toBe(false);
  });

  it("a memory hog is stopped at the memory limit (killed by the cgroup, or refused by RLIMIT_DATA)", async () => {
    const id = await fresh();
    const result = await run(id, "python3 -c 'x = bytearray(1024 * 1024 * 1024); print(len(x))'");
    expect(result.exitCode).toBe(CGROUPS.ok ? 137 : 1);
    if (!CGROUPS.ok) expect(result.stderr).toContain("MemoryError");
    expect(result.stdout).toBe("");
    await backend.kill(id);
  });

  it("a disk filler stops at the disk limit", async () => {
    const id = await fresh();
    const result = await run(id, "dd if=/dev/zero of=/workspace/fill bs=1M count=200 2>&1; du -m /workspace/fill");
    expect(result.stdout).toContain("No space left on device");
    expect(Number(result.stdout.trim().split("\n").pop()!.split(/\s/)[0])).toBeLessThanOrEqual(64);
    await backend.kill(id);
  });

  it.skipIf(!CGROUPS.ok)(needs("a CPU burner is throttled to its share", CGROUPS).title, async () => {
    const id = await fresh();
    await run(id, "timeout 2 sh -c 'while :; do :; done'");
    const stat = readFileSync(`/sys/fs/cgroup/cpu/acontext/${id}/cpu.stat`, "utf8");
    expect(Number(/nr_throttled (\d+)/.exec(stat)![1])).toBeGreaterThan(0);
    await backend.kill(id);
  });

  it("an output flood is cut with a marker and the command still ends", async () => {
    const id = await fresh();
    const result = await run(id, "yes flood", { timeoutSeconds: 1.5, maxOutputBytes: 64 * 1024 });
    expect(result.timedOut).toBe(true);
    expect(result.stdout.length).toBeLessThan(70 * 1024);
    expect(result.stdout).toContain("[acontext: stdout truncated after 65536 bytes]");
    await backend.kill(id);
  });

  it("a command that ignores SIGTERM is killed at its timeout, with everything it started", async () => {
    // On a clock of the test's: the timeout comes once both sleeps are seen running, not before.
    const clock = new ManualClock();
    const timed = serviceOver(backend, {}, clock);
    try {
      const id = await timed.create(LIMITS);
      /** Live sleeps (a killed one may still be a zombie its parent has not reaped: dead, not running). */
      const sleeps = async () => {
        const found = await timed.run(id, "ps -e -o stat=,comm= | awk '$2 == \"sleep\" && $1 !~ /^Z/' | wc -l");
        expect(found.exitCode, found.stderr).toBe(0);
        return Number(found.stdout);
      };
      const result = timed.run(id, "trap '' TERM; (trap '' TERM; sleep 300) & sleep 300", { timeoutSeconds: 1 });
      await vi.waitFor(async () => expect(await sleeps()).toBe(2), { timeout: 10_000 });
      clock.advance(1000);
      expect(await result).toMatchObject({ exitCode: 124, timedOut: true });
      expect(await sleeps()).toBe(0);
      await backend.kill(id);
    } finally {
      await timed.close();
    }
  });
});

/** Processes in the pid namespace of a sandbox whose PID 1 is host pid `initPid`, as the host sees them. */
function processesIn(initPid: number): number {
  const namespace = pidNamespaceOf(initPid);
  return namespace ? processesInNamespace(namespace) : 0;
}
