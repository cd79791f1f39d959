// Local sandboxes from util-linux (unshare, nsenter, setpriv, mount) and perl-base: each sandbox
// has its own shifted uid range, user/mount/pid/net/ipc/uts/cgroup namespaces, a copy-on-write
// root over an allowlisted /etc skeleton and the host /usr, a capability-less PID 1 that keeps it
// alive, cgroup limits where the host allows them, and an exec agent (agent.ts) that runs its
// commands. The design, its measurements and its traps are in ../shared/reference/local-isolation.md;
// the key rule: everything that enters a sandbox from the host runs from the read-only host tree
// at /.sbx, never from files the sandbox can write.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { accessSync, constants, existsSync, openSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { PassThrough, type Readable } from "node:stream";
import { once } from "node:events";
import { findOnPath } from "../../scaffold/package-manager.js";
import { readStat, signalQuietly, sleep } from "../../scaffold/processes.js";
import type { CreateOptions, ExecOptions, ExecResult, SandboxBackend, SandboxLimits } from "../backend.js";
import { AgentUnreachable, agentRun, type AgentRun } from "./agent.js";
import { ensureHost, type HostLayout } from "./host.js";

/** Sandbox uid ranges start here, far from /etc/subuid ranges (podman uses 100000+). */
const UID_BASE = 1_000_000;
const UID_RANGE = 65_536;
/** Ranges must end below 2^32 - 1. */
const MAX_INDEX = Math.floor((2 ** 32 - 1 - UID_BASE) / UID_RANGE) - 1;

/** Docker's default capability set minus mknod and net_raw, all scoped to the sandbox's user namespace. */
const EXEC_BOUNDING_SET =
  "-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+sys_chroot,+audit_write,+setfcap";

const CGROUP_V1_CONTROLLERS = ["memory", "pids", "cpu", "freezer"] as const;

/**
 * Out of reach even with network: private, shared and link-local ranges (the host's LAN, cloud
 * metadata at 169.254.169.254). Unreachable routes in the sandbox's own network namespace, which
 * its commands cannot change (no CAP_NET_ADMIN); slirp4netns's 10.0.2.0/24 is more specific.
 */
const PRIVATE_NETS = "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 100.64.0.0/10";

/** What the set-up scripts below share: mount(2) and its flags, for perl without modules. */
const MOUNT_PL = `use strict;
my ($RDONLY, $NOSUID, $NODEV, $NOEXEC, $REMOUNT, $BIND, $REC) = (1, 2, 4, 8, 32, 4096, 16384);
sub mnt {
    my ($source, $target, $type, $flags, $data) = @_;
    syscall(165, $source, $target, $type, $flags, defined $data ? $data : 0) == 0 or die "acontext: mount $target: $!\\n";
}`;

/**
 * PID 1 of a sandbox, run inside its new namespaces: mounts /proc, a minimal /dev, makes
 * /proc/sys read-only, forbids nested user namespaces, points DNS at slirp4netns and fences off
 * private ranges for a sandbox with network, pivots into the sandbox root, then drops every
 * capability and only reaps orphans. One perl process (no modules) instead of ~25 short commands:
 * ~30 ms less per create. It runs the host's perl before the pivot, and nothing of the sandbox's.
 */
const INIT_PL = `${MOUNT_PL}
sub put { my ($file, $text) = @_; open(my $fh, ">", $file) or die "init: $file: $!\\n"; print $fh $text; close($fh) or die "init: $file: $!\\n"; }
sub link_to { symlink($_[0], $_[1]) or die "init: symlink $_[1]: $!\\n"; }
open(my $stat, "<", "/proc/self/stat") or die "init: /proc/self/stat: $!\\n";
my ($hostpid) = split(" ", scalar <$stat>);
close($stat);
my $root = "$ENV{S}/rootfs";
mnt($root, $root, "none", $BIND | $REC);
chdir($root) or die "init: $root: $!\\n";
mnt("proc", "proc", "proc", $NOSUID | $NODEV | $NOEXEC);
mnt("tmpfs", "dev", "tmpfs", $NOSUID | $NOEXEC, "mode=755,size=64k");
for my $device (qw(null zero full random urandom tty)) {
    put("dev/$device", "");
    mnt("/dev/$device", "dev/$device", "none", $BIND);
}
mkdir("dev/pts") and mkdir("dev/shm") or die "init: mkdir: $!\\n";
mnt("devpts", "dev/pts", "devpts", $NOSUID | $NOEXEC, "newinstance,ptmxmode=0666,mode=620");
link_to("pts/ptmx", "dev/ptmx");
mnt("tmpfs", "dev/shm", "tmpfs", $NOSUID | $NODEV, "size=64m");
link_to("/proc/self/fd", "dev/fd");
link_to("/proc/self/fd/$_->[0]", "dev/$_->[1]") for [0, "stdin"], [1, "stdout"], [2, "stderr"];
put("proc/sys/user/max_user_namespaces", "0\\n");
put("etc/resolv.conf", "nameserver 10.0.2.3\\n") if $ENV{NETWORK};
mnt("proc/sys", "proc/sys", "none", $BIND);
mnt("none", "proc/sys", "none", $REMOUNT | $BIND | $RDONLY | $NOSUID | $NODEV | $NOEXEC);
# (syscall() takes strings by reference: variables, not literals.)
my ($here, $old, $detached, $name) = (".", ".oldroot", "/.oldroot", "sandbox");
mkdir($old);
syscall(155, $here, $old) == 0 or die "init: pivot_root: $!\\n";
syscall(166, $detached, 2) == 0 or die "init: umount: $!\\n"; # MNT_DETACH
rmdir($detached);
chdir("/") or die "init: chdir /: $!\\n";
syscall(170, $name, length $name) == 0 or die "init: sethostname: $!\\n";
# lo up: SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP.
socket(my $sock, 2, 2, 0) or die "init: socket: $!\\n";
my $ifreq = pack("a16 x24", "lo");
ioctl($sock, 0x8913, $ifreq) or die "init: lo flags: $!\\n";
my $flags = unpack("x16 s", $ifreq) | 1;
$ifreq = pack("a16 s x22", "lo", $flags);
ioctl($sock, 0x8914, $ifreq) or die "init: lo up: $!\\n";
close($sock);
if ($ENV{NETWORK}) {
    system("/.sbx/usr/sbin/ip", "route", "add", "unreachable", $_) == 0 or die "init: route $_\\n" for split(" ", $ENV{PRIVATE_NETS});
}
$| = 1;
print "READY $hostpid\\n";
open(STDIN, "<", "/dev/null"); open(STDOUT, ">", "/dev/null"); open(STDERR, ">", "/dev/null");
exec { "/.sbx/usr/bin/setpriv" } "setpriv", "--nnp", "--inh-caps=-all", "--bounding-set=-all", "/bin/sh", "-c", "while :; do sleep 2147483647 & wait; done";
die "init: exec setpriv: $!\\n";`;

/**
 * The start of the creation chain, before ROOT_PL in the same perl process: joins the sandbox's
 * cgroups; as root, makes the holder, a child in a new user namespace given the sandbox's uid range
 * (it keeps the namespace alive while the root is built, and prints "HOLDER <pid>"); as a user,
 * enters a user namespace that maps only that user to root (no uid range, no idmapped mounts: the
 * host /usr and the skeleton stay owned by nobody inside, so /usr is read-only). Then a private
 * mount namespace: nothing leaks into the host's mount table, everything vanishes with the sandbox.
 * In perl rather than sh + unshare + a readlink loop: ~5 fewer programs started per create.
 * The chain is one process (each step execs the next) whose child is PID 1: it gets SIGKILL when
 * the server dies (pdeathsig, set after entering the user namespace, which would reset it), and
 * unshare --kill-child takes PID 1, so the whole sandbox, with it. Later it prints, from PID 1,
 * "READY <host pid>".
 */
const CREATE_PL = `
my ($CLONE_NEWNS, $CLONE_NEWUSER, $PRIVATE) = (0x20000, 0x10000000, 1 << 18);
sub put { my ($file, $text) = @_; open(my $fh, ">", $file) or die "root: $file: $!\\n"; print $fh $text; close($fh) or die "root: $file: $!\\n"; }
put("$_/cgroup.procs", "$$\\n") for split(" ", $ENV{CGROUPS});
$| = 1;
if ($ENV{B}) {
    pipe(my $ready, my $tell) or die "root: pipe: $!\\n";
    my $holder = fork();
    die "root: fork: $!\\n" unless defined $holder;
    if ($holder == 0) {
        close($ready);
        syscall(272, $CLONE_NEWUSER) == 0 or die "root: unshare user: $!\\n";
        close($tell);
        select(undef, undef, undef, 600); # until the server kills it, once PID 1 is up
        exit(0);
    }
    close($tell);
    # End of file on the pipe: the holder is in its namespace (or gone; the maps then fail).
    sysread($ready, my $byte, 1);
    put("/proc/$holder/$_", "0 $ENV{B} $ENV{RANGE}\\n") for qw(uid_map gid_map);
    print "HOLDER $holder\\n";
    $ENV{H} = $holder;
} else {
    my ($uid, $gid) = ($<, $( + 0);
    syscall(272, $CLONE_NEWUSER) == 0 or die "root: unshare user: $!\\n";
    put("/proc/self/setgroups", "deny");
    put("/proc/self/uid_map", "0 $uid 1\\n");
    put("/proc/self/gid_map", "0 $gid 1\\n");
}
syscall(272, $CLONE_NEWNS) == 0 or die "root: unshare mount: $!\\n";
mnt("none", "/", "none", $REC | $PRIVATE);`;

/**
 * The creation chain: CREATE_PL, then in its private mount namespace the sandbox's root, then PID 1 in
 * new namespaces: a size-capped tmpfs for the writable layers; overlays over the skeleton and the
 * host /usr (as root, idmapped into the sandbox's uid range with open_tree + mount_setattr +
 * move_mount: util-linux 2.39 has `mount -o X-mount.idmap`, Debian 12 has 2.38); the read-only
 * helper tree at /.sbx. One perl process (no modules) instead of a dozen `mount` commands.
 */
const ROOT_PL = `${MOUNT_PL}${CREATE_PL}
sub idmapped {
    my ($userns, $source, $target) = @_;
    my ($empty, $AT_FDCWD) = ("", -100);
    # open_tree(OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE), mount_setattr(MOUNT_ATTR_IDMAP), move_mount.
    my $fd = syscall(428, $AT_FDCWD, $source, 1 | 02000000 | 0x8000);
    die "root: open_tree $source: $!\\n" if $fd < 0;
    my $attr = pack("Q Q Q Q", 0x100000, 0, 0, fileno($userns));
    syscall(442, $fd, $empty, 0x1000 | 0x8000, $attr, length $attr) == 0 or die "root: mount_setattr $source: $!\\n";
    syscall(429, $fd, $empty, $AT_FDCWD, $target, 4) == 0 or die "root: move_mount $target: $!\\n";
    syscall(3, $fd);
}
my ($S, $base, $holder) = ($ENV{S}, $ENV{BASE}, $ENV{H});
mnt("acontext-disk", "$S/disk", "tmpfs", 0, "size=$ENV{DISK},mode=0755");
mkdir("$S/disk/$_") or die "root: mkdir $_: $!\\n" for qw(root.u root.w usr.u usr.w);
my ($root_lower, $usr_lower) = ($base, "/usr");
if ($holder) {
    chown($ENV{B}, $ENV{B}, "$S/disk/root.u", "$S/disk/usr.u") == 2 or die "root: chown: $!\\n";
    open(my $userns, "<", "/proc/$holder/ns/user") or die "root: user namespace of $holder: $!\\n";
    ($root_lower, $usr_lower) = ("$S/l-root", "$S/l-usr");
    idmapped($userns, $base, $root_lower);
    idmapped($userns, "/usr", $usr_lower);
}
mnt("acontext-root", "$S/rootfs", "overlay", 0, "lowerdir=$root_lower,upperdir=$S/disk/root.u,workdir=$S/disk/root.w");
mnt("acontext-usr", "$S/rootfs/usr", "overlay", 0, "lowerdir=$usr_lower,upperdir=$S/disk/usr.u,workdir=$S/disk/usr.w");
mnt($ENV{HELPER}, "$S/rootfs/.sbx", "none", $BIND);
mnt("/usr", "$S/rootfs/.sbx/usr", "none", $BIND);
mnt("$base/etc", "$S/rootfs/.sbx/etc", "none", $BIND);
mnt("none", "$S/rootfs/$_", "none", $REMOUNT | $BIND | $RDONLY | $NODEV | $NOSUID) for qw(.sbx/usr .sbx/etc .sbx);
chdir("$S/rootfs") or die "root: $S/rootfs: $!\\n";
my @init = ("/usr/bin/setpriv", "--pdeathsig", "KILL", "/usr/bin/unshare", "--mount", "--pid", "--net", "--uts", "--ipc", "--cgroup",
    "--fork", "--kill-child", "--propagation", "private", "--", "/usr/bin/perl", "-e", $ENV{INIT_PL});
unshift(@init, "/usr/bin/nsenter", "--user=/proc/$holder/ns/user", "--") if $holder;
exec { $init[0] } @init or die "root: exec $init[0]: $!\\n";`;

/**
 * Run as root on the host, first in the agent's chain: joins the sandbox's cgroups, binds the
 * agent's socket in the sandbox's state dir (which the sandbox cannot see), root-only, and execs
 * the rest of the chain with it as fd 3. No modules: each costs milliseconds of start-up.
 */
const BIND_PL = `use strict;
for my $cgroup (split(" ", $ENV{CGROUPS})) {
    open(my $procs, ">", "$cgroup/cgroup.procs") or die "agent: $cgroup: $!\\n";
    syswrite($procs, "$$\\n") or die "agent: joining $cgroup: $!\\n";
    close($procs);
}
chdir($ENV{S}) or die "agent: $ENV{S}: $!\\n";
unlink("agent.sock");
$^F = 3;
socket(my $s, 1, 1, 0) or die "agent: socket: $!\\n"; # AF_UNIX, SOCK_STREAM
my $mask = umask(077);
bind($s, pack("S Z*", 1, "agent.sock")) or die "agent: bind: $!\\n";
umask($mask);
listen($s, 128) or die "agent: listen: $!\\n";
if (fileno($s) != 3) { syscall(33, fileno($s), 3) == 3 or die "agent: dup2: $!\\n"; }
exec { $ARGV[0] } @ARGV or die "agent: exec $ARGV[0]: $!\\n";`;

const MAX_PARALLEL_BUILDS = 8;

const DEFAULT_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", LANG: "C.UTF-8" };

interface Sandbox {
  /** The id the API knows it by (a warm sandbox gets one when it is taken). */
  id: string;
  /** Its folder and cgroup name, fixed at creation. */
  key: string;
  /** Its uid range (0: none, as an ordinary user). */
  index: number;
  limits: SandboxLimits;
  initPid: number;
  /** Field 22 of /proc/<pid>/stat: guards against signalling a reused pid. */
  initStart: string;
  outer: ChildProcess;
  dir: string;
  cgroups: string[];
  /** The agent's socket, through a directory fd: the full path can exceed sockaddr_un's 108 bytes. */
  socket: string;
  /** Set while the agent is being (re)started. */
  agentStart?: Promise<void>;
  /** The agent's chain on the host (nsenter waits there for the agent). */
  agent?: ChildProcess;
  /** slirp4netns, for a sandbox with network. */
  network?: ChildProcess;
  destroyed?: Promise<void>;
}

export interface LocalBackendOptions {
  /** Sandboxes kept created ahead, with the limits of the last create (0: none). */
  warm?: number;
  cgroupRoot?: string;
}

interface WarmSandbox {
  /** The limits and network it was made with, as JSON. */
  spec: string;
  /** Undefined when its creation failed. */
  box: Promise<Sandbox | undefined>;
}

export class LocalBackend implements SandboxBackend {
  readonly name = "local";
  readonly isolation: string;
  readonly limits: Record<string, string>;
  readonly networkUnavailable: string | undefined;
  /** Root: uid ranges, idmapped mounts, cgroups. Otherwise one uid, and rlimits. */
  private readonly privileged: boolean;
  private readonly cgroups: boolean;
  private readonly sandboxes = new Map<string, Sandbox>();
  private warm: WarmSandbox[] = [];
  private readonly warmCount: number;
  private closed = false;
  private host: Promise<HostLayout> | undefined;
  private building = 0;
  private readonly waitingToBuild: Array<() => void> = [];
  private readonly cgroupRoot: string;

  private readonly sandboxesDir: string;
  private sandboxesDirFd = -1;

  /**
   * `stateDir` is shared by all servers of the machine (skeleton, uid claims); `namespace` keeps
   * this server's sandboxes apart, so a restart sweeps only its own.
   */
  constructor(
    private readonly stateDir: string,
    namespace: string,
    options: LocalBackendOptions = {},
  ) {
    this.sandboxesDir = join(stateDir, "sb", namespace);
    this.warmCount = options.warm ?? 0;
    this.cgroupRoot = options.cgroupRoot ?? "/sys/fs/cgroup";
    this.privileged = process.getuid?.() === 0;
    this.cgroups = this.privileged && CGROUP_V1_CONTROLLERS.every((c) => existsSync(join(this.cgroupRoot, c)));
    this.networkUnavailable = !findOnPath("slirp4netns")
      ? "network for local sandboxes needs slirp4netns on the server's machine (apt-get install slirp4netns)"
      : !this.privileged && !usable("/dev/net/tun")
        ? "network for an ordinary user's sandboxes needs /dev/net/tun to be usable by that user (most systems make it 0666)"
        : undefined;
    this.isolation = this.privileged
      ? "all namespaces, an own range of 65536 host uids, seccomp, no capabilities outside"
      : "all namespaces, mapped to your own uid (no root: no uid range, /usr read-only), seccomp";
    // Without cgroups (an ordinary user, or a host without cgroup v1 controllers): rlimits.
    this.limits = this.cgroups
      ? { memory: "cgroup", pids: "cgroup", cpu: "cgroup", disk: "tmpfs size" }
      : {
          memory: "rlimit per process (RLIMIT_DATA)",
          pids: "rlimit per sandbox (RLIMIT_NPROC)",
          cpu: `not enforced (${this.privileged ? "no cgroup v1 cpu controller here" : "no cgroups without root"})`,
          disk: "tmpfs size",
        };
  }

  /**
   * Whether this machine can run local sandboxes: Linux with user namespaces; as root with
   * everything, as an ordinary user where the kernel lets users make namespaces.
   */
  static supported(): { ok: boolean; reason?: string } {
    if (process.platform !== "linux") return { ok: false, reason: "local sandboxes need Linux namespaces" };
    const max = Number(readIfExists("/proc/sys/user/max_user_namespaces") ?? "0");
    if (!max) return { ok: false, reason: "user namespaces are disabled (sysctl user.max_user_namespaces=0)" };
    if (process.getuid?.() === 0) return { ok: true };
    const probe = spawnSync("unshare", ["--user", "--map-root-user", "--mount", "--pid", "--net", "--fork", "true"], { stdio: "ignore" });
    if (probe.status !== 0) {
      return {
        ok: false,
        reason:
          "this kernel does not let ordinary users make namespaces (sysctl kernel.unprivileged_userns_clone, or " +
          "kernel.apparmor_restrict_unprivileged_userns on Ubuntu); run the server as root, or allow them",
      };
    }
    return { ok: true };
  }

  async create({ id, network, limits }: CreateOptions): Promise<void> {
    if (network && this.networkUnavailable) throw new Error(this.networkUnavailable);
    if (this.sandboxes.has(id)) throw new Error(`sandbox ${id} exists`);
    const spec = JSON.stringify({ limits, network });
    const box = (await this.takeWarm(spec)) ?? (await this.build(id, limits, network));
    box.id = id;
    this.sandboxes.set(id, box);
    this.refill(spec, limits, network);
  }

  /** A warm sandbox made like this (limits, network), waiting for one being made if need be. */
  private async takeWarm(spec: string): Promise<Sandbox | undefined> {
    const at = this.warm.findIndex((warm) => warm.spec === spec);
    if (at < 0) return undefined;
    const [warm] = this.warm.splice(at, 1);
    const box = await warm!.box;
    return box && startTime(box.initPid) === box.initStart ? box : undefined;
  }

  /** Makes warm sandboxes like the one just asked for; ones of another kind go. */
  private refill(spec: string, limits: SandboxLimits, network: boolean): void {
    if (this.closed || !this.warmCount) return;
    for (const stale of this.warm.filter((warm) => warm.spec !== spec)) {
      stale.box.then((box) => box && this.destroy(box)).catch(() => {});
    }
    this.warm = this.warm.filter((warm) => warm.spec === spec);
    while (this.warm.length < this.warmCount) {
      this.warm.push({ spec, box: this.build(randomUUID(), limits, network).catch(() => undefined) });
    }
  }

  /**
   * Up to MAX_PARALLEL_BUILDS at once: a build mostly waits (for processes, mounts, the kernel), so
   * a burst of creates is done sooner side by side (12 at once: 0.77 s one by one, 0.46 s eight at a
   * time, here). uid ranges are claimed with exclusive files, which is safe in parallel.
   */
  private async build(key: string, limits: SandboxLimits, network: boolean): Promise<Sandbox> {
    while (this.building >= MAX_PARALLEL_BUILDS) await new Promise<void>((resolve) => this.waitingToBuild.push(resolve));
    this.building++;
    try {
      return await this.buildOne(key, limits, network);
    } finally {
      this.building--;
      this.waitingToBuild.shift()?.();
    }
  }

  private async buildOne(key: string, limits: SandboxLimits, network: boolean): Promise<Sandbox> {
    const host = await this.prepare();
    const dir = join(this.sandboxesDir, key);
    await mkdir(join(dir, "rootfs"), { recursive: true });
    const index = this.privileged ? await this.claimIndex(host, dir) : 0;
    await mkdir(join(dir, "l-root"));
    await mkdir(join(dir, "l-usr"));
    await mkdir(join(dir, "disk"));
    const cgroups = this.cgroups ? await this.createCgroups(key, limits) : [];

    const outer = spawn("/usr/bin/perl", ["-e", ROOT_PL], {
      env: {
        PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        S: dir,
        B: this.privileged ? String(UID_BASE + index * UID_RANGE) : "",
        RANGE: String(UID_RANGE),
        DISK: String(limits.diskBytes),
        BASE: host.base,
        HELPER: host.helper,
        CGROUPS: cgroups.join(" "),
        NETWORK: network ? "1" : "",
        PRIVATE_NETS,
        INIT_PL,
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const stderr: string[] = [];
    outer.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
    let holder = 0;
    let initPid = 0;
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: outer.stdout! });
      lines.on("line", (line) => {
        const [word, pid] = line.split(" ");
        if (word === "HOLDER") holder = Number(pid);
        if (word === "READY") {
          initPid = Number(pid);
          resolve();
        }
      });
      outer.once("exit", (code) => reject(new Error(`creating the sandbox failed (exit ${code}): ${stderr.join("").trim()}`)));
    }).catch(async (err) => {
      if (holder) signalQuietly(holder, "SIGKILL");
      await this.removeFiles(dir, cgroups);
      await this.releaseIndex(host, index);
      throw err;
    });
    if (holder) signalQuietly(holder, "SIGKILL");
    const socket = `/proc/self/fd/${this.sandboxesDirFd}/${key}/agent.sock`;
    const box: Sandbox = { id: key, key, index, limits, initPid, initStart: startTime(initPid) ?? "", outer, dir, cgroups, socket };
    // PID 1 died on its own (the OOM killer, say): the sandbox is gone; clean up after it.
    outer.once("exit", () => {
      if (box.destroyed) return;
      if (this.sandboxes.get(box.id) === box) this.sandboxes.delete(box.id);
      this.destroy(box).catch(() => {});
    });
    try {
      await this.startAgent(box);
      if (network) await this.connect(box);
    } catch (err) {
      await this.destroy(box);
      throw err;
    }
    return box;
  }

  /**
   * Outbound network through slirp4netns: a user-mode TCP/IP stack on the host that gives the
   * sandbox's own network namespace a tap0 (10.0.2.100, gateway 10.0.2.2, DNS 10.0.2.3) and makes
   * its connections with ordinary host sockets. The host's loopback (this server included) stays
   * out of reach. It runs in its own mount namespace under a seccomp filter, and dies with the
   * server (pdeathsig) or the sandbox.
   */
  private async connect(box: Sandbox): Promise<void> {
    const args = ["--pdeathsig", "KILL", "slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox", "--enable-seccomp"];
    if (!this.privileged) args.push(`--userns-path=/proc/${box.initPid}/ns/user`);
    // The API socket (port forwards) in the sandbox's folder, named relative to it: full paths
    // can exceed sockaddr_un's 108 bytes.
    args.push("--ready-fd=3", "--api-socket=slirp.sock", String(box.initPid), "tap0");
    const slirp = spawn("setpriv", args, { cwd: box.dir, stdio: ["ignore", "ignore", "pipe", "pipe"], detached: true });
    box.network = slirp;
    const stderr: Buffer[] = [];
    slirp.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk));
    await new Promise<void>((resolve, reject) => {
      (slirp.stdio[3] as Readable).once("data", () => resolve());
      slirp.once("exit", (code) => reject(new Error(`the sandbox's network did not start (exit ${code}): ${Buffer.concat(stderr).toString().trim()}`)));
    });
    // Running: its later messages are dropped, not collected.
    (slirp.stdio[3] as Readable).destroy();
    slirp.stderr!.removeAllListeners("data").resume();
    slirp.unref();
  }

  /**
   * Starts the sandbox's exec agent through the trusted path: join the cgroups, enter every
   * namespace with the read-only host tree as root, drop to the exec capabilities with no new
   * privileges, load the seccomp filter, set rlimits; the agent then chroots into the sandbox
   * itself. Nothing from the sandbox's writable files runs on the way.
   */
  private startAgent(box: Sandbox): Promise<void> {
    box.agentStart ??= (async () => {
      const argv = [
        "-e", BIND_PL,
        "/usr/bin/nsenter", "-t", String(box.initPid), "-U", "-m", "-u", "-i", "-n", "-p", "-C",
        // A user's namespace maps only that user, already root inside: no setgroups/setuid there.
        ...(this.privileged ? [] : ["--preserve-credentials"]),
        `--root=/proc/${box.initPid}/root/.sbx`, `--wd=/proc/${box.initPid}/root`, "--",
        "/usr/bin/setpriv", "--nnp", "--inh-caps=-all", `--bounding-set=${EXEC_BOUNDING_SET}`,
        "/usr/bin/perl", "/agent.pl", "/seccomp.bpf",
        // Without cgroups, rlimits: processes of the sandbox (counted in its own user namespace)
        // and memory per process.
        ...(this.cgroups ? [] : [String(box.limits.pids), String(box.limits.memoryBytes)]),
      ];
      const agent = spawn("/usr/bin/perl", argv, {
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", S: box.dir, CGROUPS: box.cgroups.join(" ") },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      box.agent = agent;
      const stderr: Buffer[] = [];
      agent.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk));
      await new Promise<void>((resolve, reject) => {
        agent.stdout!.once("data", () => resolve());
        agent.once("exit", (code) => reject(new Error(`the sandbox's exec agent did not start (exit ${code}): ${Buffer.concat(stderr).toString().trim()}`)));
      }).finally(() => {
        agent.stdout!.destroy();
        agent.stderr!.destroy();
        agent.unref();
      });
    })().finally(() => (box.agentStart = undefined));
    return box.agentStart;
  }

  /** Runs a command through the agent; one that was killed (by sandbox code, say) is started again. */
  private async run(id: string, options: Pick<ExecOptions, "command" | "cwd" | "env" | "stdin" | "onOutput" | "tty">): Promise<AgentRun> {
    const box = this.live(id);
    const request = { command: options.command, cwd: options.cwd ?? "/workspace", env: { ...DEFAULT_ENV, ...options.env }, stdin: options.stdin, tty: options.tty };
    const hooks = { onOutput: options.onOutput ?? (() => {}) };
    await box.agentStart;
    try {
      return await agentRun(box.socket, request, hooks);
    } catch (err) {
      if (!(err instanceof AgentUnreachable) || !this.isRunning(id)) throw err;
      await this.startAgent(box);
      return agentRun(box.socket, request, hooks);
    }
  }

  async exec(id: string, options: ExecOptions): Promise<ExecResult> {
    const limit = options.maxOutputBytes ?? Infinity;
    const seen = { stdout: 0, stderr: 0 };
    const marked = { stdout: false, stderr: false };
    const deliver = (name: "stdout" | "stderr", chunk: Buffer) => options.onOutput?.(name, chunk);
    const run = await this.run(id, {
      ...options,
      onOutput: (name, chunk) => {
        const room = limit - seen[name];
        seen[name] += chunk.length;
        if (chunk.length <= room) return deliver(name, chunk);
        // Past the cap: keep taking output (the command must not block), say so once.
        const pending = room > 0 ? deliver(name, chunk.subarray(0, room)) : undefined;
        if (!marked[name]) deliver(name, Buffer.from(`\n[acontext: ${name} truncated after ${limit} bytes]\n`));
        marked[name] = true;
        return pending;
      },
    });
    let timedOut = false;
    const stop = () => run.kill();
    const timer = options.timeoutMs ? setTimeout(() => ((timedOut = true), stop()), options.timeoutMs) : undefined;
    options.signal?.addEventListener("abort", stop, { once: true });
    const code = await run.done;
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", stop);
    if (timedOut) {
      deliver("stderr", Buffer.from(`\n[acontext: killed after the ${options.timeoutMs! / 1000} s timeout]\n`));
      return { exitCode: 124, timedOut };
    }
    if (code === null && !options.signal?.aborted) {
      deliver("stderr", Buffer.from("\n[acontext: lost the command: the sandbox's exec agent was killed]\n"));
    }
    return { exitCode: code ?? 137, timedOut };
  }

  async readFile(id: string, path: string): Promise<Readable> {
    // `cat` inside the sandbox: the path, symlinks included, resolves in the sandbox's own root.
    const out = new PassThrough();
    const errors: Buffer[] = [];
    let started: () => void = () => {};
    const firstByte = new Promise<void>((resolve) => (started = resolve));
    const run = await this.run(id, {
      command: 'cat -- "$ACONTEXT_PATH"',
      cwd: "/",
      env: { ACONTEXT_PATH: path },
      onOutput: (stream, chunk) => {
        if (stream === "stderr") return void errors.push(chunk);
        started();
        if (!out.write(chunk)) return once(out, "drain").then(() => {});
      },
    });
    out.once("close", () => run.kill()); // the reader gave up
    const failure = () => new Error(Buffer.concat(errors).toString().trim() || `cannot read ${path}`);
    // Report a missing or unreadable file before any byte, so callers can answer 404.
    const first = await Promise.race([firstByte.then(() => "data" as const), run.done]);
    if (first !== "data" && first !== 0) throw failure();
    run.done.then((code) => (code === 0 ? out.end() : out.destroy(failure())));
    return out;
  }

  async writeFile(id: string, path: string, source: Readable): Promise<void> {
    const errors: Buffer[] = [];
    const result = await this.exec(id, {
      command: 'mkdir -p -- "$(dirname -- "$ACONTEXT_PATH")" && cat > "$ACONTEXT_PATH"',
      cwd: "/",
      env: { ACONTEXT_PATH: path },
      stdin: source,
      onOutput: (stream, chunk) => {
        if (stream === "stderr") errors.push(chunk);
      },
    });
    if (result.exitCode !== 0) throw new Error(Buffer.concat(errors).toString().trim() || `cannot write ${path}`);
  }

  isRunning(id: string): boolean {
    const box = this.sandboxes.get(id);
    return Boolean(box && startTime(box.initPid) === box.initStart);
  }

  async kill(id: string): Promise<void> {
    const box = this.sandboxes.get(id);
    if (!box) return;
    this.sandboxes.delete(id);
    await this.destroy(box);
  }

  private destroy(box: Sandbox): Promise<void> {
    box.destroyed ??= (async () => {
      // SIGKILL to PID 1 ends the whole pid namespace; its mounts, tmpfs and overlays go with it.
      if (startTime(box.initPid) === box.initStart) signalQuietly(box.initPid, "SIGKILL");
      if (box.network?.pid && running(box.network)) signalQuietly(box.network.pid, "SIGKILL");
      // Every host process of the sandbox ends before its files go (ref: a server shutting down
      // must not exit while it waits for them).
      await Promise.all([box.outer, box.agent, box.network].map((child) => child && running(child) && (child.ref(), once(child, "exit"))));
      await this.removeFiles(box.dir, box.cgroups);
      await this.releaseIndex(await this.prepare(), box.index);
    })();
    return box.destroyed;
  }

  /**
   * Removes what sandboxes of an earlier server left: their processes died with it (pdeathsig),
   * their state directories and empty cgroups remain. Returns the ids it cleaned.
   */
  async sweep(): Promise<string[]> {
    const host = await this.prepare();
    const live = new Set([...this.sandboxes.values()].map((box) => box.key));
    const stale = (await readdir(this.sandboxesDir)).filter((key) => !live.has(key));
    for (const id of stale) {
      const dir = join(this.sandboxesDir, id);
      const index = Number(await readFile(join(dir, "uid-index"), "utf8").catch(() => "0"));
      const cgroups = this.cgroups ? CGROUP_V1_CONTROLLERS.map((c) => join(this.cgroupRoot, c, "acontext", id)) : [];
      await this.removeFiles(dir, cgroups);
      if (index) await this.releaseIndex(host, index);
    }
    return stale;
  }

  /** Kills every sandbox, warm ones included, and makes no more warm ones (server shutdown). */
  async killAll(): Promise<void> {
    this.closed = true;
    const warm = this.warm.splice(0).map((entry) => entry.box.then((box) => box && this.destroy(box)));
    await Promise.all([...warm, ...[...this.sandboxes.keys()].map((id) => this.kill(id))]);
  }

  private live(id: string): Sandbox {
    const box = this.sandboxes.get(id);
    if (!box || !this.isRunning(id)) throw new Error(`sandbox ${id} is not running`);
    return box;
  }

  private async prepare(): Promise<HostLayout> {
    this.host ??= ensureHost(this.stateDir).then(async (host) => {
      await mkdir(this.sandboxesDir, { recursive: true, mode: 0o711 });
      this.sandboxesDirFd = openSync(this.sandboxesDir, constants.O_RDONLY | constants.O_DIRECTORY);
      return host;
    });
    return this.host;
  }

  /**
   * A uid range no other sandbox on the machine uses, claimed with an exclusive file (servers of
   * other data dirs share the machine's ranges). The index is also kept in the sandbox's folder,
   * so a sweep after a crash can release it.
   */
  private async claimIndex(host: HostLayout, dir: string): Promise<number> {
    for (let index = 1; index < MAX_INDEX; index++) {
      try {
        await writeFile(join(host.uidClaims, String(index)), dir, { flag: "wx" });
        await writeFile(join(dir, "uid-index"), String(index));
        return index;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
    throw new Error("no free uid range for another sandbox");
  }

  private async releaseIndex(host: HostLayout, index: number): Promise<void> {
    if (index) await rm(join(host.uidClaims, String(index)), { force: true });
  }

  private async createCgroups(id: string, limits: SandboxLimits): Promise<string[]> {
    const dirs = CGROUP_V1_CONTROLLERS.map((c) => join(this.cgroupRoot, c, "acontext", id));
    for (const dir of dirs) await mkdir(dir, { recursive: true });
    const [memory, pids, cpu] = dirs as [string, string, string, string];
    await writeFile(join(memory, "memory.limit_in_bytes"), String(limits.memoryBytes));
    await writeFile(join(pids, "pids.max"), String(limits.pids));
    await writeFile(join(cpu, "cpu.cfs_period_us"), "100000");
    await writeFile(join(cpu, "cpu.cfs_quota_us"), String(Math.round(limits.cpus * 100_000)));
    return dirs;
  }

  private async removeFiles(dir: string, cgroups: string[]): Promise<void> {
    const busy: string[] = [];
    for (const cgroup of cgroups) {
      // v1 cgroups stay busy for a moment after their last task exits; a straggler (a process
      // that was exiting as PID 1 died) is killed, and one that still holds the cgroup is reported.
      for (let attempt = 1; ; attempt++) {
        try {
          await rmdir(cgroup);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "ENOENT") break;
          if (code !== "EBUSY") throw err;
          if (attempt % 100 === 0) {
            const procs = await readFile(join(cgroup, "cgroup.procs"), "utf8").catch(() => "");
            for (const pid of procs.split("\n").filter(Boolean)) signalQuietly(Number(pid), "SIGKILL");
          }
          if (attempt === 2500) {
            busy.push(cgroup);
            break;
          }
          await sleep(2);
        }
      }
    }
    await rm(dir, { recursive: true, force: true });
    if (busy.length) throw new Error(`cgroups still busy after their sandbox ended: ${busy.join(", ")}`);
  }
}

function startTime(pid: number): string | undefined {
  return readStat(pid)?.startTime;
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function usable(device: string): boolean {
  try {
    accessSync(device, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}


