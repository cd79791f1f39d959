// Sandboxes as containers on the user's container engine (engine.ts), for machines where local
// namespaces are not to be had (macOS, Windows, a locked-down Linux). Hardened by default: no
// network unless asked (then a bridge of our own, fenced: network.ts), a non-root uid, every
// capability dropped, no new privileges, a read-only root with a size-capped tmpfs workspace and
// /tmp, memory/pids/cpu limits, the sandboxes' seccomp policy (seccomp-profile.ts), an init that
// reaps orphans. Commands run as engine execs, each marked in
// its environment so that a reaper (reaper.pl) can end everything it started; file transfers are
// execs of files.sh, which runs the image's own programs (the read-only root keeps the sandbox
// from replacing them). Each container is named after its sandbox and labelled with this
// server's namespace, so a restarted server takes back the ones still running and removes the rest.
import { randomUUID } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import type Docker from "dockerode";
import {
  type CreateOptions,
  type ExecOptions,
  type FileErrorCode,
  type HostCapacity,
  type PathKind,
  type SandboxBackend,
  SandboxFileError,
  type SandboxLimits,
  type TreeEntry,
} from "../backend.js";
import { connectEngine, DEFAULT_IMAGE, type Engine, ensureImage } from "./engine.js";
import files from "./files.sh";
import killScript from "./kill.sh";
import { ensureNetwork, fence } from "./network.js";
import { Reaper } from "./reaper.js";
import { seccompProfile } from "./seccomp-profile.js";
import { demultiplex, drainedOrClosed, feed } from "./streams.js";
import ttyScript from "./tty.sh";

/** The uid:gid commands run as (no name needed in the image's /etc/passwd). */
const USER = "1000:1000";
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** Only the image's own programs, for our helpers (the root is read-only; nothing there is the sandbox's). */
const HELPER_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";
const DEFAULT_ENV = { PATH, HOME: "/workspace", LANG: "C.UTF-8" };
const LABEL_SERVER = "io.acontext.server";
const LABEL_SANDBOX = "io.acontext.sandbox";

export interface DockerBackendOptions {
  /** Keeps this server's containers apart from other servers'. */
  namespace: string;
  image?: string;
  /** Containers kept created ahead, with the limits of the last create (0: none). */
  warm?: number;
  /** Progress of an image pull or build. */
  log?: (line: string) => void;
}

interface WarmContainer {
  spec: string;
  container: Promise<Docker.Container | undefined>;
}

export class DockerBackend implements SandboxBackend {
  readonly name = "docker";
  readonly capabilities = { tty: true };
  readonly isolation: string;
  readonly limits = { memory: "cgroup (engine)", pids: "cgroup (engine)", cpu: "cgroup (engine)", disk: "tmpfs size (workspace and /tmp)" };
  readonly caveats: string[] = [];
  readonly networkUnavailable: string | undefined;
  readonly networkDescription: string;
  readonly image: string;
  private readonly docker: Docker;
  private readonly containers = new Map<string, Docker.Container>();
  private readonly reapers = new Map<string, Reaper>();
  /** The seccomp profile as SecurityOpt takes it: Docker takes the JSON, Podman a file on its machine. */
  private profile: Promise<string> | undefined;
  private warm: WarmContainer[] = [];
  private closed = false;
  private imageReady: Promise<void> | undefined;
  private network: Promise<string> | undefined;
  private hostCapacity: Promise<HostCapacity> | undefined;

  private constructor(
    private readonly engine: Engine,
    private readonly options: DockerBackendOptions,
  ) {
    this.docker = engine.docker;
    this.image = options.image || DEFAULT_IMAGE;
    this.isolation = `a container per sandbox on ${engine.description}: uid 1000, no capabilities, no new privileges, read-only root, seccomp`;
    // Podman's DNS answers on the host's side of the bridge, which the fence keeps out of reach.
    this.networkUnavailable = engine.podman
      ? "network for sandboxes on Podman is not offered yet: its DNS answers on the host's side of the bridge, which sandboxes may not reach"
      : undefined;
    this.networkDescription = `off by default; network: true gives outbound access through the engine's bridge network ${this.networkName()}, not to the host, other sandboxes or private ranges`;
  }

  /** The backend on the engine DOCKER_HOST names (or the default socket), or why there is none. */
  static async open(options: DockerBackendOptions): Promise<DockerBackend | { unavailable: string }> {
    const engine = await connectEngine();
    if ("unavailable" in engine) return engine;
    return new DockerBackend(engine, options);
  }

  /** The engine's machine (a VM, on Docker Desktop): its memory and CPUs; its pid_max is not told, so Linux's default. */
  async capacity(): Promise<HostCapacity> {
    this.hostCapacity ??= this.docker.info().then((info: { MemTotal: number; NCPU: number }) => ({
      memoryBytes: info.MemTotal,
      pids: 32_768,
      cpus: info.NCPU,
      // The workspace and /tmp are tmpfs: memory.
      diskBytes: info.MemTotal,
    }));
    return this.hostCapacity;
  }

  async create({ id, network, limits }: CreateOptions): Promise<void> {
    if (network && this.networkUnavailable) throw new Error(this.networkUnavailable);
    // Warm containers have no network: one that asks for it is made now.
    const spec = JSON.stringify(limits);
    const taken = network ? undefined : await this.takeWarm(spec);
    // A warm one is renamed after its sandbox; one made now is named so from the start.
    if (taken) await taken.rename({ name: this.containerName(id) });
    const container = taken ?? (await this.build(limits, { network, name: this.containerName(id) }));
    this.containers.set(id, container);
    if (!network) this.refill(spec, limits);
  }

  private async takeWarm(spec: string): Promise<Docker.Container | undefined> {
    const at = this.warm.findIndex((warm) => warm.spec === spec);
    if (at < 0) return undefined;
    const [warm] = this.warm.splice(at, 1);
    const container = await warm!.container;
    if (!container) return undefined;
    const state = await container.inspect().catch(() => undefined);
    return state?.State.Running ? container : undefined;
  }

  private refill(spec: string, limits: SandboxLimits): void {
    if (this.closed || !this.options.warm) return;
    for (const stale of this.warm.filter((warm) => warm.spec !== spec)) stale.container.then((container) => container?.remove({ force: true })).catch(() => {});
    this.warm = this.warm.filter((warm) => warm.spec === spec);
    while (this.warm.length < this.options.warm)
      this.warm.push({ spec, container: this.build(limits, { network: false, name: this.containerName(`warm-${randomUUID()}`) }).catch(() => undefined) });
  }

  private async build(limits: SandboxLimits, { network, name }: { network: boolean; name: string }, ipv6Off = network): Promise<Docker.Container> {
    this.imageReady ??= ensureImage(this.engine, this.image, this.options.log ?? (() => {})).catch((err) => {
      this.imageReady = undefined;
      throw err;
    });
    await this.imageReady;
    // Podman takes "U" (chown to the container's user) where Docker takes uid/gid.
    const owner = this.engine.podman ? "U" : "uid=1000,gid=1000";
    if (network) {
      this.network ??= ensureNetwork(this.docker, this.networkName(), { [LABEL_SERVER]: this.options.namespace }).catch((err) => {
        this.network = undefined;
        throw err;
      });
      await this.network;
    }
    const securityOpt = ["no-new-privileges", `seccomp=${await this.seccomp()}`];
    const container = await this.docker.createContainer({
      name,
      Image: this.image,
      Entrypoint: ["sleep"],
      Cmd: ["infinity"],
      User: USER,
      WorkingDir: "/workspace",
      Env: Object.entries(DEFAULT_ENV).map(([name, value]) => `${name}=${value}`),
      Labels: { [LABEL_SERVER]: this.options.namespace, [LABEL_SANDBOX]: "1" },
      HostConfig: {
        NetworkMode: network ? this.networkName() : "none",
        // No IPv6 on the bridge: its link-local addresses would reach the host past the fence.
        ...(ipv6Off && { Sysctls: { "net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1" } }),
        Init: true,
        Memory: limits.memoryBytes,
        MemorySwap: limits.memoryBytes,
        PidsLimit: limits.pids,
        NanoCpus: Math.round(limits.cpus * 1e9),
        ReadonlyRootfs: true,
        CapDrop: ["ALL"],
        SecurityOpt: securityOpt,
        IpcMode: "private",
        Ulimits: [
          { Name: "nofile", Soft: 4096, Hard: 4096 },
          { Name: "core", Soft: 0, Hard: 0 },
          // Podman otherwise asks for a process limit above what its own service may have (EPERM).
          ...(this.engine.podman ? [{ Name: "nproc", Soft: 16384, Hard: 16384 }] : []),
        ],
        Tmpfs: {
          "/workspace": `rw,nosuid,nodev,size=${limits.diskBytes},mode=0755,${owner}`,
          "/tmp": `rw,nosuid,nodev,size=${limits.diskBytes},mode=1777`,
        },
      },
    });
    try {
      await container.start();
      if (network) {
        await fence(this.docker, container, { image: this.image, labels: { [LABEL_SERVER]: this.options.namespace }, securityOpt });
      }
    } catch (err) {
      await container.remove({ force: true }).catch(() => {});
      // A kernel without IPv6 has no such setting, and no IPv6 to turn off.
      if (ipv6Off && /disable_ipv6/.test(String(err))) return this.build(limits, { network, name }, false);
      throw err;
    }
    await this.startReaper(container);
    return container;
  }

  private seccomp(): Promise<string> {
    this.profile ??= (async () => {
      const profile = seccompProfile();
      if (!this.engine.podman) return profile;
      // Podman's compatible API reads a path on the engine's machine (here: its socket is local),
      // in a folder of our own: no one else's file can stand in for it.
      const file = join(await mkdtemp(join(tmpdir(), "acontext-seccomp-")), "profile.json");
      await writeFile(file, profile, { mode: 0o644, flag: "wx" });
      return file;
    })();
    return this.profile;
  }

  /** Before any sandbox code runs in it (and again for a container taken back after a restart). */
  private async startReaper(container: Docker.Container): Promise<void> {
    const reaper = await Reaper.start(container, USER, (stream, onStdout) => demultiplex(stream, (kind, chunk) => void (kind === "stdout" && onStdout(chunk))));
    if (reaper) this.reapers.set(container.id, reaper);
  }

  /** Ends everything the exec marked `marker` started: through the reaper, else by an exec of kill.sh. */
  private async reap(container: Docker.Container, marker: string): Promise<void> {
    if (await this.reapers.get(container.id)?.reap(marker)) return;
    await this.runHelper(container, killScript, [marker]);
  }

  async exec(id: string, options: ExecOptions): Promise<number | null> {
    const container = this.live(id);
    const marker = randomUUID();
    const env = { ...DEFAULT_ENV, ...options.env, ACONTEXT_EXEC: marker };
    const tty = options.tty;
    const exec = await container.exec({
      Cmd: tty ? ["/bin/sh", "-c", ttyScript, "tty.sh", String(tty.rows), String(tty.cols), options.command] : ["/bin/sh", "-c", options.command],
      Env: Object.entries(env).map(([name, value]) => `${name}=${value}`),
      WorkingDir: options.cwd ?? "/workspace",
      User: USER,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: Boolean(tty),
    });
    const stream = await exec.start({ hijack: true, stdin: true, Tty: Boolean(tty) });
    const stop = () => {
      // Everything this exec started, wherever it went, then the stream.
      this.reap(container, marker)
        .catch(() => {})
        .finally(() => stream.destroy());
    };
    if (options.signal?.aborted) stop();
    options.signal?.addEventListener("abort", stop, { once: true });
    if (tty) {
      // The size at start is tty.sh's; then as the user resizes, one at a time: two resizes in
      // flight can reach the engine out of order and leave the older size (stty sends rows, then cols).
      let resizing = Promise.resolve();
      tty.onResize?.((size) => {
        resizing = resizing.then(() => exec.resize({ h: size.rows, w: size.cols }).catch(() => {}));
      });
    }
    feed(stream, options.stdin);
    const onOutput = options.onOutput ?? (() => {});
    try {
      if (tty) {
        for await (const chunk of stream) await onOutput("stdout", chunk as Buffer);
      } else {
        await demultiplex(stream, onOutput);
      }
    } catch {
      // A broken stream: the exit code below tells what became of the command.
    } finally {
      options.signal?.removeEventListener("abort", stop);
    }
    const info = await exec.inspect().catch(() => undefined);
    if (!info || info.Running) return null;
    return info.ExitCode;
  }

  async readFile(id: string, path: string, signal?: AbortSignal): Promise<{ size: number; stream: Readable }> {
    const helper = await this.startHelper(this.live(id), files, ["read", path], undefined, signal);
    // The size line first, then the bytes; a failure before the size line is the file's error.
    const output = helper.stdout[Symbol.asyncIterator]();
    let head = Buffer.alloc(0);
    let newline = -1;
    while (newline < 0) {
      const next = await output.next();
      if (next.done) throw await helper.failure(path);
      head = Buffer.concat([head, next.value as Buffer]);
      newline = head.indexOf(10);
      if (newline < 0 && head.length > 32) throw new Error(`the sandbox's files.sh answered without a size: ${JSON.stringify(head.toString("latin1"))}`);
    }
    const size = Number(head.subarray(0, newline).toString());
    const rest = head.subarray(newline + 1);
    async function* bytes() {
      if (rest.length) yield rest;
      for (let next = await output.next(); !next.done; next = await output.next()) yield next.value as Buffer;
      const code = await helper.done;
      if (code !== 0) throw await helper.failure(path);
    }
    const stream = Readable.from(bytes(), { objectMode: false });
    stream.once("close", () => helper.stop());
    return { size, stream };
  }

  async writeFile(id: string, path: string, source: Readable, signal?: AbortSignal): Promise<void> {
    const helper = await this.startHelper(this.live(id), files, ["write", path], source, signal);
    helper.stdout.resume();
    const code = await helper.done;
    if (signal?.aborted) throw signal.reason;
    if (code !== 0) throw await helper.failure(path);
  }

  async stat(id: string, path: string, signal?: AbortSignal): Promise<PathKind> {
    const helper = await this.startHelper(this.live(id), files, ["stat", path], undefined, signal);
    const answer = Buffer.concat(await helper.stdout.toArray())
      .toString()
      .trim();
    if ((await helper.done) !== 0 || !["file", "dir", "other", "missing"].includes(answer)) throw await helper.failure(path);
    return answer as PathKind;
  }

  async *listFiles(id: string, dir: string, signal?: AbortSignal): AsyncIterable<TreeEntry[]> {
    const helper = await this.startHelper(this.live(id), files, ["list", dir], undefined, signal);
    let pending: Buffer = Buffer.alloc(0);
    try {
      for await (const chunk of helper.stdout) {
        pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
        const batch: TreeEntry[] = [];
        for (let end = pending.indexOf(0); end >= 0; end = pending.indexOf(0)) {
          const record = pending.subarray(0, end);
          pending = pending.subarray(end + 1);
          const space = record.indexOf(32);
          batch.push({ size: Number(record.subarray(0, space).toString("latin1")), path: Buffer.from(record.subarray(space + 1)) });
        }
        if (batch.length) yield batch;
      }
      const code = await helper.done;
      if (signal?.aborted) throw signal.reason;
      if (code !== 0) throw await helper.failure(dir);
    } finally {
      helper.stop();
    }
  }

  /** One of our scripts run in the container: stdout streamed, stderr kept for errors, killed by `stop`. */
  private async startHelper(container: Docker.Container, script: string, args: string[], stdin: Readable | undefined, signal?: AbortSignal) {
    const exec = await container.exec({
      Cmd: ["/bin/sh", "-c", script, "files.sh", ...args],
      Env: [`PATH=${HELPER_PATH}`, "LANG=C.UTF-8"],
      WorkingDir: "/",
      User: USER,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await exec.start({ hijack: true, stdin: true });
    const stdout = new PassThrough();
    const stderr: Buffer[] = [];
    let stderrBytes = 0;
    const stop = () => stream.destroy();
    signal?.addEventListener("abort", stop, { once: true });
    feed(stream, stdin);
    const done = (async () => {
      try {
        await demultiplex(stream, async (kind, chunk) => {
          if (kind === "stdout") {
            // Until the reader takes more, or gives up (its stream closes).
            if (!stdout.write(chunk)) await drainedOrClosed(stdout);
          } else if (stderrBytes < 4096) {
            stderr.push(chunk);
            stderrBytes += chunk.length;
          }
        });
      } catch {
        // stopped, or the stream broke: the exit code says what came of it
      } finally {
        stdout.end();
        signal?.removeEventListener("abort", stop);
      }
      const info = await exec.inspect().catch(() => undefined);
      return info && !info.Running ? (info.ExitCode ?? -1) : -1;
    })();
    return {
      stdout,
      done,
      stop,
      failure: async (path: string) => {
        const code = await done;
        const message = Buffer.concat(stderr).toString().trim() || `${path}: failed (exit ${code})`;
        return new SandboxFileError(FILE_ERRORS[code] ?? "failed", message);
      },
    };
  }

  /** Runs one of our scripts to its end, its output dropped. */
  private async runHelper(container: Docker.Container, script: string, args: string[]): Promise<void> {
    const exec = await container.exec({
      Cmd: ["/bin/sh", "-c", script, "acontext", ...args],
      Env: [`PATH=${HELPER_PATH}`],
      User: USER,
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await exec.start({ hijack: true });
    stream.resume();
    await new Promise((resolve) => stream.once("end", resolve).once("close", resolve).once("error", resolve));
  }

  async status(id: string): Promise<"running" | "gone"> {
    const container = this.containers.get(id);
    if (!container) return "gone";
    const info = await container.inspect().catch(() => undefined);
    return info?.State.Running ? "running" : "gone";
  }

  async kill(id: string): Promise<void> {
    const container = this.containers.get(id);
    this.containers.delete(id);
    if (container) this.reapers.get(container.id)?.close();
    if (container) this.reapers.delete(container.id);
    await container?.remove({ force: true, v: true }).catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
  }

  async killAll(): Promise<void> {
    this.closed = true;
    const warm = this.warm.splice(0).map((entry) => entry.container.then((container) => container?.remove({ force: true }).catch(() => {})));
    await Promise.all([...warm, ...[...this.containers.keys()].map((id) => this.kill(id))]);
    // Once no container is on it (another server of the namespace may still have some).
    if (this.network)
      await this.docker
        .getNetwork(this.networkName())
        .remove()
        .catch(() => {});
  }

  /** Takes back this server's containers still running for the sandboxes in `ids`; removes every other one of this server's. */
  async reconcile(ids: string[]): Promise<string[]> {
    const wanted = new Set(ids);
    const listed = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL_SERVER}=${this.options.namespace}`] } });
    const adopted: string[] = [];
    for (const info of listed) {
      const id = info.Names.map((name) => name.replace(/^\//, ""))
        .find((name) => name.startsWith(this.containerName("")))
        ?.slice(this.containerName("").length);
      const container = this.docker.getContainer(info.Id);
      if (id && wanted.has(id) && info.State === "running") {
        this.containers.set(id, container);
        await this.startReaper(container);
        adopted.push(id);
      } else {
        await container.remove({ force: true, v: true }).catch(() => {});
      }
    }
    return adopted;
  }

  /** The bridge network this server's sandboxes with network join. */
  private networkName(): string {
    return `acontext-${this.options.namespace.slice(0, 12)}-network`;
  }

  /** A container's name: this server's namespace, then the sandbox id (or "warm-…"). */
  private containerName(id: string): string {
    return `acontext-${this.options.namespace.slice(0, 12)}-${id}`;
  }

  private live(id: string): Docker.Container {
    const container = this.containers.get(id);
    if (!container) throw new Error(`sandbox ${id} is not running`);
    return container;
  }
}

const FILE_ERRORS: Record<number, FileErrorCode> = { 2: "not-found", 3: "not-regular", 4: "denied", 5: "not-directory", 6: "no-space" };
