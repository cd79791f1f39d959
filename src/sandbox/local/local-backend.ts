// Local sandboxes from util-linux (unshare, nsenter, setpriv, mount) and perl-base: each sandbox
// has its own shifted uid range, user/mount/pid/net/ipc/uts/cgroup namespaces, a copy-on-write
// root over an allowlisted /etc skeleton and the host /usr, a capability-less PID 1 that keeps it
// alive, cgroup limits where the host allows them, and an exec agent (agent.ts) that runs its
// commands. The key rule: everything that enters a sandbox from the host runs from the read-only host tree
// at /.sbx, never from files the sandbox can write.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { closeSync, constants, existsSync, openSync } from "node:fs";
import { mkdir, readdir, readFile, rmdir } from "node:fs/promises";
import { availableParallelism, totalmem } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { readStat, signalQuietly } from "../../shared/processes.js";
import type { CreateOptions, ExecOptions, HostCapacity, PathKind, SandboxBackend, SandboxLimits, TreeEntry } from "../backend.js";
import { unreachableNets } from "../unreachable.js";
import { AgentUnreachable, agentListFiles, agentReadFile, agentRun, agentStat, agentWriteFile } from "./agent.js";
import { ensureHost, type HostLayout } from "./host.js";
import { SLIRP_NETWORK, startNetwork } from "./network.js";
import {
  CGROUP_V1_CONTROLLERS,
  cgroupsOf,
  claimedUidRange,
  claimUidRange,
  createCgroups,
  firstUid,
  releaseUidRange,
  removeSandboxFiles,
  UID_RANGE,
} from "./resources.js";
import { localSandboxSupport, networkUnavailable } from "./support.js";

/** Docker's default capability set minus mknod and net_raw, all scoped to the sandbox's user namespace. */
const EXEC_BOUNDING_SET = "-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+sys_chroot,+audit_write,+setfcap";

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
  readonly capabilities = { tty: true };
  readonly isolation: string;
  readonly limits: Record<string, string>;
  readonly caveats: string[];
  readonly networkUnavailable: string | undefined;
  readonly networkDescription = "off by default; network: true gives outbound access through slirp4netns, not to the host or private ranges";
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
    this.networkUnavailable = networkUnavailable(this.privileged);
    this.isolation = this.privileged
      ? "all namespaces, an own range of 65536 host uids, seccomp, no capabilities outside"
      : "all namespaces, mapped to your own uid (no root: no uid range, /usr read-only), seccomp";
    // Without cgroups (an ordinary user, or a host without cgroup v1 controllers): rlimits.
    const why = this.privileged ? "no cgroup v1 memory, pids and cpu controllers on this host" : "no cgroups for an ordinary user";
    this.limits = this.cgroups
      ? { memory: "cgroup", pids: "cgroup", cpu: "cgroup", disk: "tmpfs size" }
      : {
          memory: "rlimit per process (RLIMIT_DATA)",
          pids: "rlimit per sandbox (RLIMIT_NPROC)",
          cpu: `not enforced (${why})`,
          disk: "tmpfs size",
        };
    this.caveats = this.cgroups
      ? []
      : [
          `memory is limited per process (RLIMIT_DATA: private memory; shared mappings are not counted), not for the whole sandbox: ${why}`,
          `cpu is not limited: ${why}`,
        ];
  }

  /** Whether this machine can run local sandboxes, and why not. */
  static supported(): { ok: boolean; reason?: string } {
    return localSandboxSupport();
  }

  async capacity(): Promise<HostCapacity> {
    const pidMax = Number((await readFile("/proc/sys/kernel/pid_max", "utf8")).trim());
    // The writable layer is a tmpfs: memory.
    return { memoryBytes: totalmem(), pids: pidMax, cpus: availableParallelism(), diskBytes: totalmem() };
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
    const index = this.privileged ? await claimUidRange(host.uidClaims, dir) : 0;
    await mkdir(join(dir, "l-root"));
    await mkdir(join(dir, "l-usr"));
    await mkdir(join(dir, "disk"));
    const cgroups = this.cgroups ? await createCgroups(this.cgroupRoot, key, limits) : [];

    const outer = spawn("/usr/bin/perl", [join(host.helper, "create.pl")], {
      env: {
        PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        S: dir,
        B: this.privileged ? String(firstUid(index)) : "",
        RANGE: String(UID_RANGE),
        DISK: String(limits.diskBytes),
        BASE: host.base,
        HELPER: host.helper,
        CGROUPS: cgroups.join(" "),
        NETWORK: network ? "1" : "",
        UNREACHABLE: network ? unreachableNets(SLIRP_NETWORK).join(" ") : "",
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
      await removeSandboxFiles(dir, cgroups);
      await releaseUidRange(host.uidClaims, index);
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
      await this.restartAgent(box, undefined);
      if (network) box.network = await startNetwork(box.initPid, box.dir, !this.privileged);
    } catch (err) {
      await this.destroy(box);
      throw err;
    }
    return box;
  }

  /**
   * Starts the sandbox's exec agent through the trusted path: join the cgroups, enter every
   * namespace with the read-only host tree as root, drop to the exec capabilities with no new
   * privileges, load the seccomp filter, set rlimits; the agent then chroots into the sandbox
   * itself. Nothing from the sandbox's writable files runs on the way. An agent still running
   * (one that hung up on a caller) is ended first: never two at once.
   */
  private restartAgent(box: Sandbox, failed: ChildProcess | undefined): Promise<void> {
    box.agentStart ??= (async () => {
      // Another caller restarted it already.
      if (box.agent !== failed) return;
      const { helper } = await this.prepare();
      if (failed && running(failed)) {
        failed.ref();
        const exited = once(failed, "exit");
        signalQuietly(failed.pid!, "SIGKILL"); // nsenter; the agent dies with it (its pdeathsig)
        await exited;
      }
      const argv = [
        join(helper, "bind.pl"),
        "/usr/bin/nsenter",
        "-t",
        String(box.initPid),
        "-U",
        "-m",
        "-u",
        "-i",
        "-n",
        "-p",
        "-C",
        // A user's namespace maps only that user, already root inside: no setgroups/setuid there.
        ...(this.privileged ? [] : ["--preserve-credentials"]),
        `--root=/proc/${box.initPid}/root/.sbx`,
        `--wd=/proc/${box.initPid}/root`,
        "--",
        "/usr/bin/setpriv",
        "--nnp",
        "--inh-caps=-all",
        `--bounding-set=${EXEC_BOUNDING_SET}`,
        "/usr/bin/perl",
        "/agent.pl",
        "/seccomp.bpf",
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

  /**
   * Does one thing through the sandbox's agent; an agent that is gone (killed by sandbox code,
   * say) or hung up before doing anything is started again and the thing retried once.
   */
  private async withAgent<T>(id: string, operation: (socket: string) => Promise<T>): Promise<T> {
    const box = this.live(id);
    await box.agentStart;
    const agent = box.agent;
    try {
      return await operation(box.socket);
    } catch (err) {
      if (!(err instanceof AgentUnreachable) || !this.alive(box)) throw err;
      await this.restartAgent(box, agent);
      return operation(box.socket);
    }
  }

  async exec(id: string, options: ExecOptions): Promise<number | null> {
    const request = {
      command: options.command,
      cwd: options.cwd ?? "/workspace",
      env: { ...DEFAULT_ENV, ...options.env },
      stdin: options.stdin,
      tty: options.tty,
    };
    const hooks = { onOutput: options.onOutput ?? (() => {}) };
    const run = await this.withAgent(id, (socket) => agentRun(socket, request, hooks, options.signal)).catch((err: unknown) => {
      if (options.signal?.aborted) return undefined; // given up before it started: nothing ran
      throw err;
    });
    if (!run) return null;
    const stop = () => run.kill();
    if (options.signal?.aborted) stop();
    options.signal?.addEventListener("abort", stop, { once: true });
    try {
      return await run.done;
    } finally {
      options.signal?.removeEventListener("abort", stop);
    }
  }

  readFile(id: string, path: string, signal?: AbortSignal): Promise<{ size: number; stream: Readable }> {
    return this.withAgent(id, (socket) => agentReadFile(socket, path, signal));
  }

  writeFile(id: string, path: string, source: Readable, signal?: AbortSignal): Promise<void> {
    return this.withAgent(id, (socket) => agentWriteFile(socket, path, source, signal));
  }

  stat(id: string, path: string, signal?: AbortSignal): Promise<PathKind> {
    return this.withAgent(id, (socket) => agentStat(socket, path, signal));
  }

  async *listFiles(id: string, dir: string, signal?: AbortSignal): AsyncIterable<TreeEntry[]> {
    // The first batch through withAgent (a gone agent is restarted), the rest as they come.
    const { listing, first } = await this.withAgent(id, async (socket) => {
      const listing = agentListFiles(socket, dir, signal);
      return { listing, first: await listing.next() };
    });
    try {
      if (first.done) return;
      yield first.value;
      yield* listing;
    } finally {
      await listing.return(undefined);
    }
  }

  async status(id: string): Promise<"running" | "gone"> {
    const box = this.sandboxes.get(id);
    return box && this.alive(box) ? "running" : "gone";
  }

  /** PID 1 is still the process it was (field 22 of its stat guards against a reused pid). */
  private alive(box: Sandbox): boolean {
    return startTime(box.initPid) === box.initStart;
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
      // The host side too: slirp4netns, and the agent's nsenter, which stops itself when sandbox
      // code stops the agent (it passes job control on) and would then never reap it.
      for (const child of [box.network, box.agent]) if (child?.pid && running(child)) signalQuietly(child.pid, "SIGKILL");
      // Every host process of the sandbox ends before its files go (ref: a server shutting down
      // must not exit while it waits for them).
      const exits = [box.outer, box.agent, box.network]
        .filter((child) => child && running(child))
        .map((child) => {
          child!.ref();
          return once(child!, "exit");
        });
      await Promise.all(exits);
      await removeSandboxFiles(box.dir, box.cgroups);
      await releaseUidRange((await this.prepare()).uidClaims, box.index);
    })();
    return box.destroyed;
  }

  /**
   * None survives its server: their processes died with it (pdeathsig). Their state directories
   * and empty cgroups remain, and are removed here.
   */
  async reconcile(): Promise<string[]> {
    const host = await this.prepare();
    const live = new Set([...this.sandboxes.values()].map((box) => box.key));
    const stale = (await readdir(this.sandboxesDir)).filter((key) => !live.has(key));
    for (const id of stale) {
      const dir = join(this.sandboxesDir, id);
      const index = await claimedUidRange(dir);
      await removeSandboxFiles(dir, this.cgroups ? cgroupsOf(this.cgroupRoot, id) : []);
      await releaseUidRange(host.uidClaims, index);
    }
    return [];
  }

  /** Kills every sandbox, warm ones included, and makes no more warm ones (server shutdown). */
  async killAll(): Promise<void> {
    this.closed = true;
    const warm = this.warm.splice(0).map((entry) => entry.box.then((box) => box && this.destroy(box)));
    await Promise.all([...warm, ...[...this.sandboxes.keys()].map((id) => this.kill(id))]);
    // This server's folder goes too when nothing is left in it (a restart makes it again).
    if (this.sandboxesDirFd >= 0) closeSync(this.sandboxesDirFd);
    this.sandboxesDirFd = -1;
    await rmdir(this.sandboxesDir).catch(() => {});
  }

  private live(id: string): Sandbox {
    const box = this.sandboxes.get(id);
    if (!box || !this.alive(box)) throw new Error(`sandbox ${id} is not running`);
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
}

function startTime(pid: number): string | undefined {
  return readStat(pid)?.startTime;
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}
