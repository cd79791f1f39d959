// The security checks and bounds every sandbox backend must hold, run against each one (local
// namespaces, a container engine): reaching the host, the kernel's surface, privileges, resource
// limits, timeouts that kill everything a command started, hostile files and listings. The
// policy comes from the SandboxService, as on a server. Backend-specific attacks (the local
// backend's helpers, uid ranges, cgroup files) are in escape.test.ts and boundary.test.ts.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SandboxBackend, SandboxLimits } from "../../src/sandbox/backend.js";
import fenceProgram from "../../src/sandbox/docker/fence.pl";
import { hostNetworks, hostAddresses as hostRanges } from "../../src/sandbox/unreachable.js";
import { BACKENDS_UNDER_TEST } from "../helpers/backends.js";
import { needs } from "../helpers/requirements.js";
import { serviceOver } from "../helpers/sandbox.js";

const LIMITS: SandboxLimits = { memoryBytes: 256 * 1024 ** 2, pids: 64, cpus: 0.5, diskBytes: 64 * 1024 ** 2 };
/** Tries a TCP connection to each address (argv[2:]) and then to the default gateway, at port argv[1]; prints "ADDRESS ERRNO" each. */
const CONNECT_PROBE = `import socket, struct, sys
port, targets = int(sys.argv[1]), sys.argv[2:]
for line in open("/proc/net/route").readlines()[1:]:
    fields = line.split()
    if int(fields[7], 16) == 0 and int(fields[2], 16):
        targets.append(socket.inet_ntoa(struct.pack("<L", int(fields[2], 16))))
for address in targets:
    s = socket.socket()
    s.settimeout(5)
    print(address, s.connect_ex((address, port)), flush=True)
`;

/**
 * Sends a UDP datagram to port argv[1] by the ways that need no route: the subnet's broadcast
 * address, 255.255.255.255 and 224.0.0.1 from a bound source, 224.0.0.1 through IP_MULTICAST_IF.
 * Prints "TARGET sent" or "TARGET ERRNO" each.
 */
const BROADCAST_PROBE = `import fcntl, socket, struct, sys
port = int(sys.argv[1])
name = [l.split()[0] for l in open("/proc/net/route").readlines()[1:] if int(l.split()[7], 16) == 0 and int(l.split()[2], 16)][0]
asked = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ask = lambda request: fcntl.ioctl(asked.fileno(), request, struct.pack("256s", name.encode()))[20:24]
own, mask = ask(0x8915), ask(0x891b)
broadcast = socket.inet_ntoa(bytes(a | (~m & 255) for a, m in zip(own, mask)))
for target, bound in [(broadcast, False), ("255.255.255.255", True), ("224.0.0.1", True), ("224.0.0.1", False)]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    if bound:
        s.bind((socket.inet_ntoa(own), 0))
    else:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, own)
    try:
        s.sendto(b"escaped", (target, port))
        print(target, "sent", flush=True)
    except OSError as e:
        print(target, e.errno, flush=True)
`;

/** An address on each of the host's networks other than its own first one: a neighbour on its LAN. */
function hostNeighbours(): string[] {
  return hostNetworks().map((network) => {
    const parts = network.split("/")[0]!.split(".").map(Number);
    parts[3]! += 1;
    return parts.join(".");
  });
}

const noLimit = { bytes: Number.POSITIVE_INFINITY, exceeded: () => new Error("unreachable") };

for (const under of BACKENDS_UNDER_TEST) {
  const suite = needs(`the sandbox boundary on the ${under.name} backend`, under.requirement);
  describe.skipIf(suite.skip)(suite.title, () => {
    let backend: SandboxBackend;
    let close: () => Promise<void>;
    let policy: ReturnType<typeof serviceOver>;
    let id: string;
    const secret = join(tmpdir(), `acontext-backend-secret-${randomBytes(4).toString("hex")}`);
    beforeAll(async () => {
      ({ backend, close } = await under.open());
      policy = serviceOver(backend, { transferTimeoutMs: 10_000, maxListedFiles: 500 });
      id = await policy.create(LIMITS);
      writeFileSync(secret, "host secret\n");
    });
    afterAll(async () => {
      await close?.();
      await policy?.close();
      rmSync(secret, { force: true });
    });
    const run = (command: string, options: Parameters<typeof policy.run>[2] = {}) => policy.run(id, command, options);
    const fresh = () => policy.create(LIMITS);

    it("cannot read a file of the host's, nor see or signal the host's processes", async () => {
      expect((await run(`cat ${secret}`)).exitCode).not.toBe(0);
      expect((await run(`kill -0 ${process.pid}`)).exitCode).not.toBe(0);
      expect((await run("ps -e -o comm=")).stdout).not.toMatch(/node|vitest/);
    });

    it("cannot reach a server on the host's 127.0.0.1", async () => {
      const server = createServer((_req, res) => res.end("host"));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as { port: number };
      try {
        const tried = await run(`python3 -c "import socket; socket.create_connection(('127.0.0.1', ${port}), timeout=2)"`);
        expect(tried.exitCode).not.toBe(0);
      } finally {
        server.close();
      }
    });

    const network = needs(
      "with network: reaches neither the host (its gateway, addresses, LAN) nor another sandbox nor a private range, by unicast, broadcast or multicast, and cannot change its routes",
      under.network,
    );
    it.skipIf(network.skip)(network.title, async () => {
      const host = createServer((_req, res) => res.end("host"));
      await new Promise<void>((resolve) => host.listen(0, "0.0.0.0", resolve));
      const { port } = host.address() as { port: number };
      try {
        const [a, b] = [await policy.create(LIMITS, { network: true }), await policy.create(LIMITS, { network: true })];
        // A UDP connect picks the route and the source address without sending anything.
        const ownAddress = `python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('198.51.100.1', 9)); print(s.getsockname()[0])"`;
        const peer = (await policy.run(b, ownAddress)).stdout.trim();
        expect(peer).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
        const hostAddresses = hostRanges().map((range) => range.replace("/32", ""));
        // Positive control: from the host itself, each of its addresses answers.
        for (const address of hostAddresses) expect(await (await fetch(`http://${address}:${port}/`)).text()).toBe("host");
        const targets = [...hostAddresses, ...hostNeighbours(), peer, "10.1.2.3", "100.64.1.1", "169.254.169.254", "172.16.5.5", "192.168.7.7"];
        const probe = (await policy.run(a, `python3 - ${port} ${targets.join(" ")}`, { stdin: Readable.from(CONNECT_PROBE) })).stdout;
        const answers = probe.trim().split("\n");
        // The targets, then the gateway; each refused or unreachable at once: never connected, never left to time out.
        expect(answers).toHaveLength(targets.length + 1);
        for (const answer of answers) expect(answer).toMatch(/ (101|111|113)$/);
        // Broadcast and multicast, which go out without a route lookup, reach no host socket
        // either: what arrives at a UDP socket on the host's 0.0.0.0 is only the host's own
        // datagrams, sent before and after the sandbox's.
        const arrived: string[] = [];
        const udp = createSocket("udp4");
        const heard = () => new Promise<void>((resolve) => udp.once("message", () => resolve()));
        udp.on("message", (message) => arrived.push(message.toString()));
        await new Promise<void>((resolve) => udp.bind(0, "0.0.0.0", resolve));
        const udpPort = udp.address().port;
        let tried = "";
        try {
          for (const control of ["before", "after"]) {
            const got = heard();
            udp.send(control, udpPort, "127.0.0.1");
            await got;
            if (control === "before") tried = (await policy.run(a, `python3 - ${udpPort}`, { stdin: Readable.from(BROADCAST_PROBE) })).stdout;
          }
          expect(tried.trim().split("\n")).toHaveLength(4);
          expect(arrived).toEqual(["before", "after"]);
        } finally {
          udp.close();
        }
        // The routes are the sandbox's own, and it may not change them.
        const undo = await policy.run(a, "perl - 198.51.100.0/24", { stdin: Readable.from(fenceProgram) });
        expect(undo.exitCode).not.toBe(0);
        expect(undo.stderr).toMatch(/Operation not permitted/);
      } finally {
        host.close();
      }
    });

    it("cannot mount, make namespaces or device nodes, write /proc/sys or read the kernel log", async () => {
      for (const command of [
        "mount -t tmpfs none /mnt",
        "unshare -U true",
        "unshare -n true",
        "mknod /tmp/sda b 8 0",
        "echo 1 > /proc/sys/kernel/sysrq",
        "dmesg",
      ]) {
        expect((await run(command)).exitCode, command).not.toBe(0);
      }
    });

    it("keyctl, bpf, userfaultfd and io_uring are refused", async () => {
      const probe = `import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
for nr in (250, 321, 323, 425):
    print(libc.syscall(nr, 0, 0, 0, 0, 0), errno.errorcode.get(ctypes.get_errno()))`;
      const lines = (await run(`python3 -c '${probe}'`)).stdout.trim().split("\n");
      expect(lines).toHaveLength(4);
      for (const line of lines) expect(line).toMatch(/^-1 (EPERM|ENOSYS)$/);
    });

    it("holds no capability that reaches past its walls, and gains none (no_new_privs)", async () => {
      const status = (await run("cat /proc/self/status")).stdout;
      expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
      expect(status).toMatch(/^Seccomp:\s+2$/m);
      const effective = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(status)![1]}`);
      // CAP_NET_ADMIN 12, CAP_SYS_MODULE 16, CAP_SYS_RAWIO 17, CAP_SYS_PTRACE 19, CAP_SYS_ADMIN 21, CAP_MKNOD 27, CAP_BPF 39
      for (const bit of [12, 16, 17, 19, 21, 27, 39]) expect((effective >> BigInt(bit)) & 1n, `capability ${bit}`).toBe(0n);
    });

    it("a fork bomb is held at the pids limit; the host still forks; the timeout ends it", async () => {
      const sandbox = await fresh();
      const bomb = await policy.run(sandbox, "bomb() { bomb | bomb & }; bomb; sleep 60", { timeoutSeconds: 3 });
      expect(bomb).toMatchObject({ exitCode: 124, timedOut: true });
      expect(spawnSync("true").status).toBe(0);
      const after = (await policy.run(sandbox, "ps -e -o stat=,args=")).stdout.trim().split("\n");
      const alive = after.filter((line) => !line.startsWith("Z"));
      expect(alive.length, after.join("\n")).toBeLessThan(10);
    });

    it("a memory hog is stopped at the memory limit", async () => {
      const sandbox = await fresh();
      const result = await policy.run(sandbox, "python3 -c 'x = bytearray(1024 * 1024 * 1024); print(len(x))'");
      expect(result.exitCode).not.toBe(0);
      expect(result.stdout).toBe("");
    });

    it("a disk filler stops at the disk limit", async () => {
      const sandbox = await fresh();
      const result = await policy.run(sandbox, "dd if=/dev/zero of=/workspace/fill bs=1M count=200 2>&1; du -m /workspace/fill");
      expect(result.stdout).toContain("No space left on device");
      expect(Number(result.stdout.trim().split("\n").pop()!.split(/\s/)[0])).toBeLessThanOrEqual(64);
    });

    it("an output flood is cut with a marker, and the command still ends", async () => {
      const result = await run("yes flood", { timeoutSeconds: 1.5, maxOutputBytes: 64 * 1024 });
      expect(result.timedOut).toBe(true);
      expect(result.stdout.length).toBeLessThan(70 * 1024);
      expect(result.stdout).toContain("[acontext: stdout truncated after 65536 bytes]");
    });

    it("a command that stops every other process in its sandbox still ends at its timeout", async () => {
      const sandbox = await fresh();
      // Our helpers in the sandbox (an exec agent and its handlers, a reaper) stopped: nothing of
      // ours is left to answer the kill that the timeout sends. PID 1 is spared (the kernel would).
      const stopAll = "for pid in $(ps -e -o pid=); do [ $pid -ne $$ ] && [ $pid -ne 1 ] && kill -STOP $pid 2>/dev/null; done; sleep 300";
      expect(await policy.run(sandbox, stopAll, { timeoutSeconds: 1 })).toMatchObject({ exitCode: 124, timedOut: true });
    });

    it("a timeout kills what the command started, after setsid and double forks too", async () => {
      const sandbox = await fresh();
      const escapes = [
        "trap '' TERM",
        "setsid sleep 3001 > /dev/null 2>&1 < /dev/null &",
        "(setsid sh -c 'sleep 3002 & wait' > /dev/null 2>&1 < /dev/null &)",
        "nohup setsid sleep 3004 > /dev/null 2>&1 &",
        "sleep 300",
      ].join("\n");
      expect(await policy.run(sandbox, escapes, { timeoutSeconds: 1 })).toMatchObject({ exitCode: 124, timedOut: true });
      expect((await policy.run(sandbox, "ps -e -o args=")).stdout).not.toMatch(/sleep (300[0-9]|300)\b/);
      // A command that ends on its own leaves its background jobs running, as `cmd &` should.
      await policy.run(sandbox, "setsid sleep 3005 > /dev/null 2>&1 < /dev/null &");
      expect((await policy.run(sandbox, "ps -e -o args=")).stdout).toContain("sleep 3005");
    });

    it("files move in and out byte for byte; FIFOs, devices and directories are refused", async () => {
      const bytes = randomBytes(200_000);
      await policy.service.writeFile(id, "/workspace/in/data.bin", (await import("node:stream")).Readable.from([bytes]));
      const file = await policy.service.readFile(id, "/workspace/in/data.bin", { limit: noLimit });
      expect(file.size).toBe(bytes.length);
      expect(Buffer.concat(await file.stream.toArray()).equals(bytes)).toBe(true);
      await run("mkfifo /workspace/fifo");
      for (const path of ["/workspace/fifo", "/dev/zero", "/workspace"]) {
        await expect(policy.service.readFile(id, path, { limit: noLimit }), path).rejects.toMatchObject({ status: 400 });
      }
      await expect(policy.service.readFile(id, "/workspace/missing", { limit: noLimit })).rejects.toMatchObject({ status: 404 });
      // What a path is, asked without running a command of the sandbox's.
      const kinds = await Promise.all(
        ["/workspace/in/data.bin", "/workspace/in", "/workspace/fifo", "/workspace/missing"].map((path) => backend.stat(id, path)),
      );
      expect(kinds).toEqual(["file", "dir", "other", "missing"]);
    });

    it("a file that lies about its size is counted as it streams; without a limit it ends at its size", async () => {
      // /proc/self/pagemap says 0 bytes and holds far more.
      const limited = await policy.service.readFile(id, "/proc/self/pagemap", { limit: { bytes: 1024 * 1024, exceeded: () => new Error("too large") } });
      let seen = 0;
      await expect(
        (async () => {
          for await (const chunk of limited.stream) {
            seen += (chunk as Buffer).length;
            if (seen > 1024 * 1024) throw new Error("too large");
          }
        })(),
      ).rejects.toThrow("too large");
      const exact = await policy.service.readFile(id, "/proc/self/pagemap");
      expect(exact.size).toBe(0);
      expect(Buffer.concat(await exact.stream.toArray()).length).toBe(0);
    });

    it("a read given up before its first byte lets go of the sandbox's side of it too", async () => {
      await run("head -c 4000000 /dev/zero > /workspace/big");
      const opened: Readable[] = [];
      const readFile = backend.readFile;
      backend.readFile = async (...args) => {
        const file = await readFile.apply(backend, args);
        opened.push(file.stream);
        return file;
      };
      try {
        const file = await policy.service.readFile(id, "/workspace/big");
        expect(file.size).toBe(4_000_000);
        file.stream.destroy();
        await new Promise((resolve) => file.stream.once("close", resolve));
        expect(opened).toHaveLength(1);
        expect(opened[0]!.destroyed).toBe(true);
      } finally {
        backend.readFile = readFile;
      }
    });

    it("a listing is capped, and names a server will not take are refused", async () => {
      await run("mkdir -p /workspace/many && cd /workspace/many && python3 -c 'for i in range(800): open(str(i), \"w\").close()'");
      await expect(policy.service.listFiles(id, "/workspace/many")).rejects.toMatchObject({ status: 400, message: "too many files" });
      await run("mkdir -p /workspace/odd && printf x > \"/workspace/odd/$(printf 'a\\nb')\"");
      await expect(policy.service.listFiles(id, "/workspace/odd")).rejects.toMatchObject({ status: 400 });
      await run("mkdir -p /workspace/fine/sub && printf 12 > /workspace/fine/sub/a && printf 3 > '/workspace/fine/b c' && ln -s /etc /workspace/fine/link");
      expect(await policy.service.listFiles(id, "/workspace/fine")).toEqual([
        { path: "b c", size: 1 },
        { path: "sub/a", size: 2 },
      ]);
    });
  });
}
