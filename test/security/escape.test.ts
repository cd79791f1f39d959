// Escape and abuse attempts against local sandboxes, each asserting that it fails; then
// containment: a sandbox that misbehaves stays inside its limits and the host stays usable.
// Runs where this machine can make sandboxes (root, user namespaces). Traffic goes to loopback only.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SandboxLimits } from "../../src/sandbox/backend.js";
import { LocalBackend } from "../../src/sandbox/local/local-backend.js";
import { execIn } from "../helpers/sandbox.js";

const support = LocalBackend.supported();
const LIMITS: SandboxLimits = { memoryBytes: 256 * 1024 ** 2, pids: 64, cpus: 0.5, diskBytes: 64 * 1024 ** 2 };

describe.skipIf(!support.ok)("escape attempts", () => {
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
  const fails = async (command: string, id = a) => expect((await run(id, command)).exitCode, command).not.toBe(0);

  // --- host secrets and files ---
  it("1. cannot read a file planted on the host", () => fails(`cat ${secret}`));
  it("2. has no /etc/shadow", () => fails("cat /etc/shadow"));
  it("3. sees an empty /root, not the host's", async () => expect((await run(a, "ls -A /root")).stdout).toBe(""));
  it("4. cannot see the state dir or any data dir", () => fails(`ls ${stateDir}`));
  it("5. has an empty /sys and no host block devices", async () => {
    expect((await run(a, "ls -A /sys")).stdout).toBe("");
    expect((await run(a, "ls /dev")).stdout.split("\n").filter(Boolean).sort()).toEqual(
      ["fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"],
    );
  });

  // --- writing outside ---
  it("6. cannot write into the read-only helper tree /.sbx", () => fails("echo x > /.sbx/usr/bin/acontext-probe"));
  it("7. cannot remount /.sbx read-write", () => fails("mount -o remount,rw /.sbx/usr"));
  it("8. changes to /usr stay in the sandbox", async () => {
    const before = createHash("sha256").update(readFileSync("/usr/bin/env")).digest("hex");
    expect((await run(a, "echo trojan >> /usr/bin/env && echo ok")).stdout).toBe("ok\n");
    expect(createHash("sha256").update(readFileSync("/usr/bin/env")).digest("hex")).toBe(before);
  });

  // --- processes ---
  it("9. cannot see or signal a host process", () => fails(`kill -0 ${process.pid}`));
  it("10. sees only its own few processes", async () => {
    const list = (await run(a, "ps -e -o comm=")).stdout;
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
      await fails(`python3 -c "import socket; socket.create_connection(('127.0.0.1', ${port}), timeout=2)"`);
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
    await new Promise<void>((resolve, reject) => connect(`\0${name}`).once("connect", function (this: import("node:net").Socket) {
      this.destroy();
      resolve();
    }).once("error", reject));
    await fails(`python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.connect('\\0${name}')"`);
  });
  it("14. cannot reach another sandbox's server on its 127.0.0.1", async () => {
    await run(b, "python3 -m http.server 9000 --bind 127.0.0.1 > /dev/null 2>&1 &");
    // Positive control: from inside b, b's own server answers (waiting for it to start).
    const up = await run(b, "python3 -c \"import socket,time\nfor i in range(400):\n  try: socket.create_connection(('127.0.0.1', 9000), timeout=1); print('up'); break\n  except OSError: time.sleep(0.025)\"");
    expect(up.stdout).toBe("up\n");
    await fails(`python3 -c "import socket; socket.create_connection(('127.0.0.1', 9000), timeout=2)"`, a);
  });
  it("15. has only a loopback interface, no route and no resolver", async () => {
    expect((await run(a, "ip -o link | awk -F': ' '{print $2}'")).stdout).toBe("lo\n");
    expect((await run(a, "ip route")).stdout).toBe("");
    expect((await run(a, "cat /etc/resolv.conf")).stdout).toBe("");
  });

  // --- kernel surface ---
  it("16. cannot mount", () => fails("mount -t tmpfs none /mnt"));
  it("17. cannot unmount its overlays to look beneath", () => fails("umount /usr"));
  it("18. cannot make new namespaces", async () => {
    await fails("unshare -U true");
    await fails("unshare -n true");
    await fails("unshare -m true");
  });
  it("19. cannot make device nodes", () => fails("mknod /tmp/sda b 8 0"));
  it("20. cannot write /proc/sys", () => fails("echo '|/tmp/x' > /proc/sys/kernel/core_pattern"));
  it("21. cannot read the kernel log", () => fails("dmesg"));
  it("22. keyctl, bpf and io_uring are denied", async () => {
    const probe = `import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
for nr in (250, 321, 425):
    print(libc.syscall(nr, 0, 0, 0, 0, 0), errno.errorcode.get(ctypes.get_errno()))`;
    expect((await run(a, `python3 -c '${probe}'`)).stdout).toBe("-1 EPERM\n-1 EPERM\n-1 EPERM\n");
  });
  it("23. a setuid binary gives nothing (no_new_privs)", async () => {
    const result = await run(a, "cp /usr/bin/id /tmp/suid-id && chmod 4755 /tmp/suid-id && setpriv --reuid=1000 --regid=1000 --clear-groups /tmp/suid-id -u");
    expect(result.stdout).toBe("1000\n");
  });
  it("24. a classic chroot escape lands in the sandbox's own root", async () => {
    const escape = "mkdir -p /tmp/jail && cd / && python3 -c \"import os; os.chroot('/tmp/jail'); os.chdir('../../../..'); os.chroot('.'); print(sorted(os.listdir('/')))\"";
    const listing = (await run(a, escape)).stdout;
    expect(listing).toContain("'workspace'");
    expect(listing).not.toContain(stateDir.split("/").pop());
  });

  // --- the exec path ---
  it("25. trojaned helpers and ld.so.preload, then a killed exec agent: the restarted agent and the next exec are clean", async () => {
    await run(a, [
      "for f in /usr/bin/setpriv /usr/sbin/chroot /usr/bin/prlimit /usr/bin/perl /usr/bin/nsenter; do printf '#!/bin/sh\\necho TROJAN > /workspace/trojan-ran\\nexec sh \"$@\"\\n' > $f; chmod 755 $f; done",
      "echo /workspace/evil.so > /etc/ld.so.preload",
      // The agent (and this exec's own handler) die: the next exec has to start a new one.
      "kill -9 -1",
    ].join("; "));
    const status = (await run(a, "cat /proc/self/status; ls /workspace")).stdout;
    expect(status).toMatch(/^CapEff:\s+00000000a00405fb$/m);
    expect(status).toMatch(/^Seccomp:\s+2$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).not.toContain("trojan-ran");
  });
  it("26. the exec agent holds nothing a command does not: same capabilities, filter, limits, cgroup", async () => {
    const fields = /^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):.*$/gm;
    const agent = (await run(b, "for p in /proc/[0-9]*; do grep -qs agent.pl $p/cmdline && [ \"$(cat $p/stat | cut -d' ' -f4)\" = 0 ] && cat $p/status $p/limits $p/cgroup; done")).stdout;
    const command = (await run(b, "cat /proc/self/status /proc/self/limits /proc/self/cgroup")).stdout;
    expect(agent.match(fields)).toEqual(command.match(fields));
    expect(agent.match(fields)).toHaveLength(9);
    const limitsOf = (text: string) => text.split("\n").filter((line) => /^Max (open files|core file size)/.test(line));
    expect(limitsOf(agent)).toEqual(limitsOf(command));
    const cgroupsOf = (text: string) => text.split("\n").filter((line) => /^\d+:[a-z,_]+:/.test(line)).sort();
    expect(cgroupsOf(agent)).toEqual(cgroupsOf(command));
  });
  it("27. the exec agent's socket is nowhere in the sandbox's file tree", async () => {
    expect((await run(b, "find / -xdev -type s 2>/dev/null; find /tmp /run /workspace /.sbx -name 'agent.sock*' 2>/dev/null")).stdout).toBe("");
  });
  it("28. a trojaned sleep run by PID 1 has no capabilities", async () => {
    await run(b, "printf '#!/bin/sh\\ngrep CapEff /proc/self/status > /workspace/init-caps\\nexec python3 -c \"import time; time.sleep(3600)\"\\n' > /tmp/trojan-sleep; chmod 755 /tmp/trojan-sleep; mv /tmp/trojan-sleep /usr/bin/sleep; pkill -x sleep; true");
    const wait = "import os, time\nfor _ in range(400):\n  if os.path.exists('/workspace/init-caps') and os.path.getsize('/workspace/init-caps'): break\n  time.sleep(0.025)";
    const caps = await run(b, `python3 -c "${wait}"; cat /workspace/init-caps`);
    expect(caps.stdout).toMatch(/^CapEff:\s+0000000000000000$/m);
  });

  // --- other sandboxes ---
  it("29. cannot see another sandbox's files or processes", async () => {
    await run(b, "echo b-secret > /workspace/b-only.txt");
    await fails("cat /workspace/b-only.txt", a);
    expect((await run(a, "ps -e -o args=")).stdout).not.toContain("http.server");
  });
  it("30. runs as a different host uid range than the other sandbox", () => {
    const uids = spawnSync("ps", ["-eo", "uid=,args="], { encoding: "utf8" })
      .stdout.split("\n")
      .filter((line) => line.includes("http.server"))
      .map((line) => Number(line.trim().split(/\s+/)[0]));
    expect(uids.length).toBeGreaterThan(0);
    for (const uid of uids) expect(uid).toBeGreaterThanOrEqual(1_000_000);
  });

  // --- transfers ---
  it("31. file transfers resolve symlinks inside the sandbox, in both directions", async () => {
    await run(a, `ln -sf ${secret} /workspace/to-host-secret; ln -sf /tmp/acontext-host-target /workspace/write-link`);
    await expect(backend.readFile(a, "/workspace/to-host-secret")).rejects.toThrow();
    await backend.writeFile(a, "/workspace/write-link", Readable.from(["from the sandbox"]));
    expect(existsSync("/tmp/acontext-host-target")).toBe(false);
    expect((await run(a, "cat /tmp/acontext-host-target")).stdout).toBe("from the sandbox");
  });
});

describe.skipIf(!support.ok)("containment", () => {
  let stateDir: string;
  let backend: LocalBackend;
  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "acontext-containment-"));
    backend = new LocalBackend(stateDir, "containment");
  });
  afterAll(async () => {
    await backend.killAll();
    await rm(stateDir, { recursive: true, force: true });
  });

  async function fresh(): Promise<string> {
    const id = `c${randomBytes(6).toString("hex")}`;
    await backend.create({ id, network: false, limits: LIMITS });
    return id;
  }
  const run = (id: string, command: string, options: Parameters<typeof execIn>[3] = {}) => execIn(backend, id, command, options);

  it("a fork bomb is held at the pids limit; the host still forks; kill ends it", async () => {
    const id = await fresh();
    await run(id, "bomb() { bomb | bomb & }; bomb", { timeoutMs: 2000 });
    const pids = Number(readFileSync(`/sys/fs/cgroup/pids/acontext/${id}/pids.current`, "utf8"));
    expect(pids).toBeLessThanOrEqual(LIMITS.pids);
    expect(spawnSync("true").status).toBe(0);
    await backend.kill(id);
    expect(existsSync(`/sys/fs/cgroup/pids/acontext/${id}`)).toBe(false);
  });

  it("a memory hog is killed at the memory limit", async () => {
    const id = await fresh();
    const result = await run(id, "python3 -c 'x = bytearray(1024 * 1024 * 1024); print(len(x))'");
    expect(result.exitCode).toBe(137);
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

  it("a CPU burner is throttled to its share", async () => {
    const id = await fresh();
    await run(id, "timeout 2 sh -c 'while :; do :; done'");
    const stat = readFileSync(`/sys/fs/cgroup/cpu/acontext/${id}/cpu.stat`, "utf8");
    expect(Number(/nr_throttled (\d+)/.exec(stat)![1])).toBeGreaterThan(0);
    await backend.kill(id);
  });

  it("an output flood is cut with a marker and the command still ends", async () => {
    const id = await fresh();
    const result = await run(id, "yes flood", { timeoutMs: 1500, maxOutputBytes: 64 * 1024 });
    expect(result.timedOut).toBe(true);
    expect(result.stdout.length).toBeLessThan(70 * 1024);
    expect(result.stdout).toContain("[acontext: stdout truncated after 65536 bytes]");
    await backend.kill(id);
  });

  it("a command that ignores SIGTERM is killed at its timeout, with everything it started", async () => {
    const id = await fresh();
    const result = await run(id, "trap '' TERM; (trap '' TERM; sleep 300) & sleep 300", { timeoutMs: 1000 });
    expect(result).toMatchObject({ exitCode: 124, timedOut: true });
    expect((await run(id, "ps -e -o args=")).stdout).not.toContain("sleep 300");
    await backend.kill(id);
  });
});
