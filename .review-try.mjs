// src/sandbox/docker/docker-backend.ts
import { randomUUID } from "node:crypto";
import { mkdtemp as mkdtemp2, writeFile as writeFile2 } from "node:fs/promises";
import { tmpdir as tmpdir2 } from "node:os";
import { join as join2 } from "node:path";
import { PassThrough, Readable } from "node:stream";

// src/sandbox/backend.ts
var SandboxFileError = class extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
    this.name = "SandboxFileError";
  }
};

// src/sandbox/docker/engine.ts
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

// src/sandbox/docker/sandbox.Dockerfile
var sandbox_default = "# The docker backend's default sandbox image: what upstream's sandbox offers an agent (a shell,\n# coreutils, python3, git, curl), on a small Debian base, built on the user's machine for its own\n# architecture. The user sandboxes run as (1000) needs no entry in /etc/passwd.\nFROM debian:bookworm-slim\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends python3 git curl ca-certificates procps \\\n && rm -rf /var/lib/apt/lists/*\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n";

// src/sandbox/docker/engine.ts
var DEFAULT_IMAGE = `acontext-sandbox:${digest(sandbox_default)}`;
async function connectEngine() {
  const { default: DockerClient } = await import("dockerode");
  const docker = new DockerClient();
  const where = process.env.DOCKER_HOST || "the default socket (/var/run/docker.sock)";
  try {
    const version = await docker.version();
    const component = version.Components?.find((part) => /engine/i.test(part.Name));
    const name = !component || component.Name === "Engine" ? "Docker Engine" : component.Name;
    return { docker, description: `${name} ${version.Version} at ${where}`, podman: /podman/i.test(name) };
  } catch (err) {
    return {
      unavailable: `no container engine answers at ${where} (${err.message}): start Docker (Docker Desktop, Docker Engine, Podman's docker-compatible socket, OrbStack, Colima) or set DOCKER_HOST`
    };
  }
}
async function ensureImage(engine, image, log) {
  try {
    await engine.docker.getImage(image).inspect();
    return;
  } catch (err) {
    if (err.statusCode !== 404) throw err;
  }
  const steps = image === DEFAULT_IMAGE ? "building" : "pulling";
  log(`${steps} the sandbox image ${image}`);
  const context = image === DEFAULT_IMAGE ? await mkdtemp(join(tmpdir(), "acontext-image-")) : void 0;
  try {
    let stream;
    if (context) {
      await writeFile(join(context, "Dockerfile"), sandbox_default);
      stream = await engine.docker.buildImage({ context, src: ["Dockerfile"] }, { t: image, rm: true, forcerm: true });
    } else {
      stream = await engine.docker.pull(image);
    }
    await new Promise((resolve, reject) => {
      engine.docker.modem.followProgress(
        stream,
        (err, output) => {
          const failed = err?.message ?? output.find((event) => event.error)?.error;
          if (failed) reject(new Error(failed));
          else resolve();
        },
        (event) => {
          const line = (event.stream ?? [event.status, event.progress].filter(Boolean).join(" ")).trim();
          if (line) log(line);
        }
      );
    });
  } catch (err) {
    throw new Error(
      `the sandbox image ${image} is not on the engine and ${steps} it failed (${err.message.trim()}): on a machine without registry access, load an image (docker load -i FILE) and start the server with --image NAME`
    );
  } finally {
    if (context) await rm(context, { recursive: true, force: true });
  }
}
function digest(text) {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619) >>> 0;
  return hash.toString(16).padStart(8, "0");
}

// src/sandbox/docker/files.sh
var files_default = `# File operations of the docker backend, run in a sandbox's container as its user, with the
# image's own programs (its root is read-only, so the sandbox cannot replace them) and PATH set by
# the backend. files.sh OP PATH:
#   read PATH    a regular file: its size and a newline on stdout, then its bytes
#   write PATH   stdin into a regular file (parents made)
#   list DIR     the regular files under DIR: "SIZE RELATIVE-PATH" NUL-terminated (links not followed)
#   stat PATH    what PATH is, links followed: file, dir, other or missing
# Exit codes name the failure: 2 missing, 3 not a regular file, 4 denied, 5 not a directory,
# 6 no space, 1 anything else (the message on stderr).
op=$1
path=$2
fail() { echo "$path: $2" >&2; exit "$1"; }
case "$op" in
read)
  [ -e "$path" ] || fail 2 "No such file or directory"
  [ -f "$path" ] || fail 3 "not a regular file"
  [ -r "$path" ] || fail 4 "Permission denied"
  size=$(stat -c %s -- "$path") || exit 1
  echo "$size"
  exec cat -- "$path"
  ;;
write)
  dir=$(dirname -- "$path")
  mkdir -p -- "$dir" 2>/dev/null || { [ -e "$dir" ] && fail 5 "not a directory"; fail 4 "cannot make its folder"; }
  if [ -e "$path" ] && [ ! -f "$path" ]; then fail 3 "not a regular file"; fi
  errors=$(cat > "$path" 2>&1) && exit 0
  case "$errors" in
  *"No space"*) fail 6 "No space left on device" ;;
  *"Permission denied"* | *"Read-only"*) fail 4 "Permission denied" ;;
  *) fail 1 "$errors" ;;
  esac
  ;;
list)
  [ -e "$path" ] || fail 2 "No such file or directory"
  [ -d "$path" ] || fail 5 "not a directory"
  cd -- "$path" || fail 4 "Permission denied"
  exec find . -mindepth 1 -type f -printf '%s %P\\0'
  ;;
stat)
  if [ -f "$path" ]; then echo file
  elif [ -d "$path" ]; then echo dir
  elif [ -e "$path" ]; then echo other
  else echo missing
  fi
  exit 0
  ;;
esac
exit 1
`;

// src/sandbox/docker/kill.sh
var kill_default = `# Kills every process of a sandbox's container whose environment holds ACONTEXT_EXEC=$1: what one
# exec started, wherever it went (setsid, double forks keep the environment), until none is left.
# Run by the docker backend as the sandbox's user, with the image's own programs.
marker="ACONTEXT_EXEC=$1"
round=0
while [ "$round" -lt 100 ]; do
  round=$((round + 1))
  found=
  for environ in /proc/[0-9]*/environ; do
    pid=\${environ#/proc/}
    pid=\${pid%/environ}
    [ "$pid" = "$$" ] && continue
    if tr '\\0' '\\n' < "$environ" 2>/dev/null | grep -qxF -- "$marker"; then
      kill -9 "$pid" 2>/dev/null && found=1
    fi
  done
  [ -n "$found" ] || exit 0
done
`;

// src/sandbox/unreachable.ts
import { networkInterfaces } from "node:os";
var UNREACHABLE_NETS = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4"];
function unreachableNets() {
  return [...UNREACHABLE_NETS, ...hostAddresses()];
}
function hostAddresses() {
  return Object.values(networkInterfaces()).flat().filter((address) => address?.family === "IPv4" && !address.internal).map((address) => `${address.address}/32`);
}

// src/sandbox/docker/fence.pl
var fence_default = `# The docker backend's network fence, run once as root in a network sandbox's container before
# any of its code runs; its arguments are the IPv4 ranges to make unreachable (a.b.c.d/n). The
# engine's bridge puts the container's subnet on-link, and on it are the host (the gateway) and
# the other containers. This makes the default route reach the gateway as an on-link next hop,
# drops the subnet's route, and adds an unreachable route for each range, over netlink (the image
# need not have iproute2). The sandbox's commands have no CAP_NET_ADMIN to undo any of it.
use strict;
use Socket qw(AF_INET SOCK_DGRAM SOCK_RAW);

my ($RTM_NEWROUTE, $RTM_DELROUTE) = (24, 25);
my ($REQUEST, $ACK, $REPLACE, $EXCL, $CREATE) = (1, 4, 0x100, 0x200, 0x400);
my ($RTA_DST, $RTA_OIF, $RTA_GATEWAY) = (1, 4, 5);
my ($UNICAST, $UNREACHABLE, $STATIC, $MAIN, $ONLINK, $NOWHERE) = (1, 7, 4, 254, 4, 255);

# /proc/net/route: addresses as the hex of their bytes read as a native integer.
my ($iface, $gateway, @subnets);
open(my $table, "<", "/proc/net/route") or die "fence: /proc/net/route: $!\\n";
<$table>;
while (<$table>) {
    my ($name, $dst, $gw, undef, undef, undef, undef, $mask) = split;
    my $bits = unpack("%32b*", pack("L", hex $mask));
    if ($bits == 0) { ($iface, $gateway) = ($name, pack("L", hex $gw)) }
    elsif (hex($gw) == 0) { push(@subnets, [$name, pack("L", hex $dst), $bits]) }
}
close($table);
die "fence: no default route\\n" unless defined $iface;
# Its index, by SIOCGIFINDEX on a struct ifreq (a 16-byte name, then the index).
socket(my $probe, AF_INET, SOCK_DGRAM, 0) or die "fence: socket: $!\\n";
my $request = pack("a16 x24", $iface);
ioctl($probe, 0x8933, $request) or die "fence: $iface: $!\\n";
my $oif = substr($request, 16, 4);

socket(my $netlink, 16, SOCK_RAW, 0) or die "fence: netlink: $!\\n";
my $seq = 0;

# One route request; dies with the kernel's error unless it is one of \`ok\` (errno numbers).
sub route {
    my ($type, $flags, $route, @ok) = @_;
    my $attributes = "";
    for ([$RTA_DST, $route->{dst}], [$RTA_GATEWAY, $route->{gateway}], [$RTA_OIF, $route->{oif}]) {
        $attributes .= pack("SS", 4 + length $_->[1], $_->[0]) . $_->[1] if defined $_->[1];
    }
    my $body = pack("C8L", 2, $route->{bits}, 0, 0, $MAIN, $route->{protocol} // 0, $route->{scope} // 0, $route->{type} // 0, $route->{flags} // 0) . $attributes;
    send($netlink, pack("LSSLL", 16 + length $body, $type, $REQUEST | $ACK | $flags, ++$seq, 0) . $body, 0) or die "fence: send: $!\\n";
    defined(recv($netlink, my $answer, 8192, 0)) or die "fence: recv: $!\\n";
    my (undef, $kind, undef, undef, undef, $error) = unpack("LSSLLl", $answer);
    return if $kind != 2 || $error == 0 || grep { $_ == -$error } @ok;
    $! = -$error;
    die "fence: route: $!\\n";
}

route($RTM_NEWROUTE, $CREATE | $REPLACE, { bits => 0, gateway => $gateway, oif => $oif, protocol => $STATIC, type => $UNICAST, flags => $ONLINK });
route($RTM_DELROUTE, 0, { dst => $_->[1], bits => $_->[2], scope => $NOWHERE }, 3) for grep { $_->[0] eq $iface } @subnets;
for (@ARGV) {
    my ($address, $bits) = m{^(\\d+\\.\\d+\\.\\d+\\.\\d+)/(\\d+)$} or die "fence: not a range: $_\\n";
    route($RTM_NEWROUTE, $CREATE | $EXCL, { dst => pack("C4", split(/\\./, $address)), bits => $bits, protocol => $STATIC, type => $UNREACHABLE }, 17);
}
`;

// src/sandbox/docker/streams.ts
function drainedOrClosed(stream) {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done).off("close", done);
      resolve();
    };
    stream.on("drain", done).on("close", done);
  });
}
function feed(stream, stdin) {
  if (!stdin) {
    stream.end();
    return;
  }
  stdin.pipe(stream);
  stdin.once("error", () => stream.end());
}
async function demultiplex(stream, onOutput) {
  let pending;
  for await (const read of stream) {
    const chunk = pending ? Buffer.concat([pending, read]) : read;
    pending = void 0;
    let at = 0;
    while (chunk.length - at >= 8) {
      const length = chunk.readUInt32BE(at + 4);
      if (chunk.length - at < 8 + length) break;
      const kind = chunk[at] === 2 ? "stderr" : "stdout";
      if (length) await onOutput(kind, chunk.subarray(at + 8, at + 8 + length));
      at += 8 + length;
    }
    if (at < chunk.length) pending = chunk.subarray(at);
  }
}

// src/sandbox/docker/network.ts
async function ensureNetwork(docker, name, labels) {
  const found = await docker.listNetworks({ filters: { name: [name] } });
  if (found.some((network) => network.Name === name)) return name;
  await docker.createNetwork({ Name: name, Driver: "bridge", CheckDuplicate: true, Labels: labels, Options: { "com.docker.network.bridge.enable_icc": "false" } }).catch((err) => {
    if (err.statusCode !== 409) throw err;
  });
  return name;
}
async function fence(docker, sandbox, helper) {
  const container = await docker.createContainer({
    Image: helper.image,
    Entrypoint: ["/usr/bin/perl", "-e", fence_default, ...unreachableNets()],
    User: "0:0",
    Env: ["PATH=/usr/bin:/bin"],
    Labels: helper.labels,
    HostConfig: {
      NetworkMode: `container:${sandbox.id}`,
      CapDrop: ["ALL"],
      CapAdd: ["NET_ADMIN"],
      SecurityOpt: helper.securityOpt,
      ReadonlyRootfs: true,
      Memory: 64 * 1024 ** 2,
      PidsLimit: 16
    }
  });
  try {
    await container.start();
    const { StatusCode } = await container.wait();
    if (StatusCode !== 0) {
      const log = [];
      await demultiplex([await container.logs({ stdout: true, stderr: true, follow: false })], (_kind, chunk) => void log.push(chunk));
      const message = Buffer.concat(log).toString().trim();
      throw new Error(`the sandbox's network could not be fenced off (${message || `exit ${StatusCode}`}); the image needs /usr/bin/perl`);
    }
  } finally {
    await container.remove({ force: true }).catch(() => {
    });
  }
}

// src/sandbox/docker/reaper.pl
var reaper_default = `# The docker backend's reaper: one process per sandbox container, started with it, that kills
# everything an exec started when that exec must end (its timeout, a client that hung up). It
# finds them by the ACONTEXT_EXEC=<marker> each exec's environment carries (setsid and double
# forks keep it), and kills without forking, so it works while a fork bomb holds every process
# slot. Its program comes on stdin up to __END__; then markers, one per line; it answers
# "done MARKER" once none is left.
use strict;
$| = 1;
while (my $marker = <DATA>) {
    chomp $marker;
    next unless $marker =~ /^[0-9a-f-]{36}$/;
    my $needle = "\\0ACONTEXT_EXEC=$marker\\0";
    for my $round (1 .. 1000) {
        my @found;
        opendir(my $proc, "/proc") or last;
        for my $pid (grep { /^[0-9]+$/ } readdir($proc)) {
            next if $pid == $$;
            open(my $fh, "<", "/proc/$pid/environ") or next;
            my $environ = do { local $/; <$fh> };
            close($fh);
            push(@found, $pid) if defined $environ && index("\\0$environ", $needle) >= 0;
        }
        closedir($proc);
        last unless @found;
        kill("KILL", @found);
    }
    print "done $marker\\n";
}
`;

// src/sandbox/docker/reaper.ts
var REAP_ANSWER_MS = 2e3;
var Reaper = class _Reaper {
  constructor(stream) {
    this.stream = stream;
  }
  pending = "";
  waiting = /* @__PURE__ */ new Map();
  gone = false;
  /** The reaper of `container`, as the user commands run as; none where the image has no perl. */
  static async start(container, user, demultiplex2) {
    try {
      const exec = await container.exec({
        Cmd: ["/usr/bin/perl", "-"],
        Env: ["PATH=/usr/bin:/bin"],
        User: user,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true
      });
      const stream = await exec.start({ hijack: true, stdin: true });
      const reaper = new _Reaper(stream);
      stream.write(`${reaper_default}
__END__
`);
      demultiplex2(stream, (chunk) => reaper.read(chunk)).catch(() => {
      }).finally(() => reaper.end());
      return reaper;
    } catch {
      return void 0;
    }
  }
  /**
   * Ends everything of the exec marked `marker`; false if the reaper is gone (killed by sandbox
   * code, say) or does not answer in time (stopped by it: it runs as the sandbox's user).
   */
  reap(marker) {
    if (this.gone) return Promise.resolve(false);
    return new Promise((resolve) => {
      const silent = setTimeout(() => {
        this.waiting.delete(marker);
        resolve(false);
      }, REAP_ANSWER_MS);
      this.waiting.set(marker, () => {
        clearTimeout(silent);
        resolve(!this.gone);
      });
      this.stream.write(`${marker}
`);
    });
  }
  close() {
    this.stream.destroy();
  }
  read(chunk) {
    this.pending += chunk.toString("latin1");
    for (let newline = this.pending.indexOf("\n"); newline >= 0; newline = this.pending.indexOf("\n")) {
      const line = this.pending.slice(0, newline);
      this.pending = this.pending.slice(newline + 1);
      const marker = line.startsWith("done ") ? line.slice(5) : "";
      this.waiting.get(marker)?.();
      this.waiting.delete(marker);
    }
  }
  end() {
    this.gone = true;
    for (const answer of this.waiting.values()) answer();
    this.waiting.clear();
  }
};

// src/sandbox/seccomp-policy.ts
var EPERM = 1;
var ENOSYS = 38;
var EAFNOSUPPORT = 97;
var CLONE_NEW_FLAGS = [131072, 33554432, 67108864, 134217728, 268435456, 536870912, 1073741824, 128];
var SOCKET_FAMILIES = [1, 2, 10, 16];
var DENIED_SYSCALLS = {
  syslog: 103,
  uselib: 134,
  ustat: 136,
  vhangup: 153,
  pivot_root: 155,
  _sysctl: 156,
  adjtimex: 159,
  acct: 163,
  settimeofday: 164,
  mount: 165,
  umount2: 166,
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  iopl: 172,
  ioperm: 173,
  create_module: 174,
  init_module: 175,
  delete_module: 176,
  get_kernel_syms: 177,
  query_module: 178,
  quotactl: 179,
  nfsservctl: 180,
  lookup_dcookie: 212,
  clock_settime: 227,
  kexec_load: 246,
  add_key: 248,
  request_key: 249,
  keyctl: 250,
  perf_event_open: 298,
  name_to_handle_at: 303,
  open_by_handle_at: 304,
  clock_adjtime: 305,
  setns: 308,
  finit_module: 313,
  kexec_file_load: 320,
  bpf: 321,
  userfaultfd: 323,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  mount_setattr: 442
};

// src/sandbox/docker/seccomp-profile.ts
function seccompProfile() {
  const rules = [
    { names: Object.keys(DENIED_SYSCALLS), action: "SCMP_ACT_ERRNO", errnoRet: EPERM },
    { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS }
  ];
  for (const flag of CLONE_NEW_FLAGS) {
    rules.push({
      names: ["clone", "unshare"],
      action: "SCMP_ACT_ERRNO",
      errnoRet: EPERM,
      args: [{ index: 0, value: flag, valueTwo: flag, op: "SCMP_CMP_MASKED_EQ" }]
    });
  }
  const highest = Math.max(...SOCKET_FAMILIES);
  const refuse = (value, op) => rules.push({ names: ["socket"], action: "SCMP_ACT_ERRNO", errnoRet: EAFNOSUPPORT, args: [{ index: 0, value, valueTwo: 0, op }] });
  for (let family = 0; family < highest; family++) if (!SOCKET_FAMILIES.includes(family)) refuse(family, "SCMP_CMP_EQ");
  refuse(highest, "SCMP_CMP_GT");
  return JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: rules });
}

// src/sandbox/docker/tty.sh
var tty_default = '# Starts a command on a terminal of the size the user has: the engine can resize an exec only once\n# it runs (ConsoleSize at create needs API 1.42), so a command that asks its size at once would\n# otherwise see 0x0. Run by the docker backend as: sh -c "$(cat tty.sh)" tty.sh ROWS COLS COMMAND.\nstty rows "$1" cols "$2" 2>/dev/null\nexec /bin/sh -c "$3"\n';

// src/sandbox/docker/docker-backend.ts
var USER = "1000:1000";
var PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
var HELPER_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";
var DEFAULT_ENV = { PATH, HOME: "/workspace", LANG: "C.UTF-8" };
var LABEL_SERVER = "io.acontext.server";
var LABEL_SANDBOX = "io.acontext.sandbox";
var DockerBackend = class _DockerBackend {
  constructor(engine, options) {
    this.engine = engine;
    this.options = options;
    this.docker = engine.docker;
    this.image = options.image || DEFAULT_IMAGE;
    this.isolation = `a container per sandbox on ${engine.description}: uid 1000, no capabilities, no new privileges, read-only root, seccomp`;
    this.networkUnavailable = engine.podman ? "network for sandboxes on Podman is not offered yet: its DNS answers on the host's side of the bridge, which sandboxes may not reach" : void 0;
    this.networkDescription = `off by default; network: true gives outbound access through the engine's bridge network ${this.networkName()}, not to the host, other sandboxes or private ranges`;
  }
  name = "docker";
  capabilities = { tty: true };
  isolation;
  limits = { memory: "cgroup (engine)", pids: "cgroup (engine)", cpu: "cgroup (engine)", disk: "tmpfs size (workspace and /tmp)" };
  caveats = [];
  networkUnavailable;
  networkDescription;
  image;
  docker;
  containers = /* @__PURE__ */ new Map();
  reapers = /* @__PURE__ */ new Map();
  /** The seccomp profile as SecurityOpt takes it: Docker takes the JSON, Podman a file on its machine. */
  profile;
  warm = [];
  closed = false;
  imageReady;
  network;
  hostCapacity;
  /** The backend on the engine DOCKER_HOST names (or the default socket), or why there is none. */
  static async open(options) {
    const engine = await connectEngine();
    if ("unavailable" in engine) return engine;
    return new _DockerBackend(engine, options);
  }
  /** The engine's machine (a VM, on Docker Desktop): its memory and CPUs; its pid_max is not told, so Linux's default. */
  async capacity() {
    this.hostCapacity ??= this.docker.info().then((info) => ({
      memoryBytes: info.MemTotal,
      pids: 32768,
      cpus: info.NCPU,
      // The workspace and /tmp are tmpfs: memory.
      diskBytes: info.MemTotal
    }));
    return this.hostCapacity;
  }
  async create({ id, network, limits: limits2 }) {
    if (network && this.networkUnavailable) throw new Error(this.networkUnavailable);
    const spec = JSON.stringify(limits2);
    const taken = network ? void 0 : await this.takeWarm(spec);
    const container = taken ?? await this.build(limits2, network);
    await container.rename({ name: this.containerName(id) });
    this.containers.set(id, container);
    if (!network) this.refill(spec, limits2);
  }
  async takeWarm(spec) {
    const at = this.warm.findIndex((warm2) => warm2.spec === spec);
    if (at < 0) return void 0;
    const [warm] = this.warm.splice(at, 1);
    const container = await warm.container;
    if (!container) return void 0;
    const state = await container.inspect().catch(() => void 0);
    return state?.State.Running ? container : void 0;
  }
  refill(spec, limits2) {
    if (this.closed || !this.options.warm) return;
    for (const stale of this.warm.filter((warm) => warm.spec !== spec)) stale.container.then((container) => container?.remove({ force: true })).catch(() => {
    });
    this.warm = this.warm.filter((warm) => warm.spec === spec);
    while (this.warm.length < this.options.warm) this.warm.push({ spec, container: this.build(limits2).catch(() => void 0) });
  }
  async build(limits2, network = false, ipv6Off = network) {
    this.imageReady ??= ensureImage(this.engine, this.image, this.options.log ?? (() => {
    })).catch((err) => {
      this.imageReady = void 0;
      throw err;
    });
    await this.imageReady;
    const owner = this.engine.podman ? "U" : "uid=1000,gid=1000";
    if (network) {
      this.network ??= ensureNetwork(this.docker, this.networkName(), { [LABEL_SERVER]: this.options.namespace }).catch((err) => {
        this.network = void 0;
        throw err;
      });
      await this.network;
    }
    const securityOpt = ["no-new-privileges", `seccomp=${await this.seccomp()}`];
    const container = await this.docker.createContainer({
      name: this.containerName(`warm-${randomUUID()}`),
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
        ...ipv6Off && { Sysctls: { "net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1" } },
        Init: true,
        Memory: limits2.memoryBytes,
        MemorySwap: limits2.memoryBytes,
        PidsLimit: limits2.pids,
        NanoCpus: Math.round(limits2.cpus * 1e9),
        ReadonlyRootfs: true,
        CapDrop: ["ALL"],
        SecurityOpt: securityOpt,
        IpcMode: "private",
        Ulimits: [
          { Name: "nofile", Soft: 4096, Hard: 4096 },
          { Name: "core", Soft: 0, Hard: 0 },
          // Podman otherwise asks for a process limit above what its own service may have (EPERM).
          ...this.engine.podman ? [{ Name: "nproc", Soft: 16384, Hard: 16384 }] : []
        ],
        Tmpfs: {
          "/workspace": `rw,nosuid,nodev,size=${limits2.diskBytes},mode=0755,${owner}`,
          "/tmp": `rw,nosuid,nodev,size=${limits2.diskBytes},mode=1777`
        }
      }
    });
    try {
      await container.start();
      if (network) {
        await fence(this.docker, container, { image: this.image, labels: { [LABEL_SERVER]: this.options.namespace }, securityOpt });
      }
    } catch (err) {
      await container.remove({ force: true }).catch(() => {
      });
      if (ipv6Off && /disable_ipv6/.test(String(err))) return this.build(limits2, network, false);
      throw err;
    }
    await this.startReaper(container);
    return container;
  }
  seccomp() {
    this.profile ??= (async () => {
      const profile = seccompProfile();
      if (!this.engine.podman) return profile;
      const file = join2(await mkdtemp2(join2(tmpdir2(), "acontext-seccomp-")), "profile.json");
      await writeFile2(file, profile, { mode: 420, flag: "wx" });
      return file;
    })();
    return this.profile;
  }
  /** Before any sandbox code runs in it (and again for a container taken back after a restart). */
  async startReaper(container) {
    const reaper = await Reaper.start(container, USER, (stream, onStdout) => demultiplex(stream, (kind, chunk) => void (kind === "stdout" && onStdout(chunk))));
    if (reaper) this.reapers.set(container.id, reaper);
  }
  /** Ends everything the exec marked `marker` started: through the reaper, else by an exec of kill.sh. */
  async reap(container, marker) {
    if (await this.reapers.get(container.id)?.reap(marker)) return;
    await this.runHelper(container, kill_default, [marker]);
  }
  async exec(id, options) {
    const container = this.live(id);
    const marker = randomUUID();
    const env = { ...DEFAULT_ENV, ...options.env, ACONTEXT_EXEC: marker };
    const tty = options.tty;
    const exec = await container.exec({
      Cmd: tty ? ["/bin/sh", "-c", tty_default, "tty.sh", String(tty.rows), String(tty.cols), options.command] : ["/bin/sh", "-c", options.command],
      Env: Object.entries(env).map(([name, value]) => `${name}=${value}`),
      WorkingDir: options.cwd ?? "/workspace",
      User: USER,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: Boolean(tty)
    });
    const stream = await exec.start({ hijack: true, stdin: true, Tty: Boolean(tty) });
    const stop = () => {
      this.reap(container, marker).catch(() => {
      }).finally(() => stream.destroy());
    };
    if (options.signal?.aborted) stop();
    options.signal?.addEventListener("abort", stop, { once: true });
    if (tty) {
      let resizing = Promise.resolve();
      tty.onResize?.((size) => {
        resizing = resizing.then(() => exec.resize({ h: size.rows, w: size.cols }).catch(() => {
        }));
      });
    }
    feed(stream, options.stdin);
    const onOutput = options.onOutput ?? (() => {
    });
    try {
      if (tty) {
        for await (const chunk of stream) await onOutput("stdout", chunk);
      } else {
        await demultiplex(stream, onOutput);
      }
    } catch {
    } finally {
      options.signal?.removeEventListener("abort", stop);
    }
    const info = await exec.inspect().catch(() => void 0);
    if (!info || info.Running) return null;
    return info.ExitCode;
  }
  async readFile(id, path, signal) {
    const helper = await this.startHelper(this.live(id), files_default, ["read", path], void 0, signal);
    const output = helper.stdout[Symbol.asyncIterator]();
    let head = Buffer.alloc(0);
    let newline = -1;
    while (newline < 0) {
      const next = await output.next();
      if (next.done) throw await helper.failure(path);
      head = Buffer.concat([head, next.value]);
      newline = head.indexOf(10);
      if (newline < 0 && head.length > 32) throw new Error(`the sandbox's files.sh answered without a size: ${JSON.stringify(head.toString("latin1"))}`);
    }
    const size = Number(head.subarray(0, newline).toString());
    const rest = head.subarray(newline + 1);
    async function* bytes() {
      if (rest.length) yield rest;
      for (let next = await output.next(); !next.done; next = await output.next()) yield next.value;
      const code = await helper.done;
      if (code !== 0) throw await helper.failure(path);
    }
    const stream = Readable.from(bytes(), { objectMode: false });
    stream.once("close", () => helper.stop());
    return { size, stream };
  }
  async writeFile(id, path, source, signal) {
    const helper = await this.startHelper(this.live(id), files_default, ["write", path], source, signal);
    helper.stdout.resume();
    const code = await helper.done;
    if (signal?.aborted) throw signal.reason;
    if (code !== 0) throw await helper.failure(path);
  }
  async stat(id, path, signal) {
    const helper = await this.startHelper(this.live(id), files_default, ["stat", path], void 0, signal);
    const answer = Buffer.concat(await helper.stdout.toArray()).toString().trim();
    if (await helper.done !== 0 || !["file", "dir", "other", "missing"].includes(answer)) throw await helper.failure(path);
    return answer;
  }
  async *listFiles(id, dir, signal) {
    const helper = await this.startHelper(this.live(id), files_default, ["list", dir], void 0, signal);
    let pending = Buffer.alloc(0);
    try {
      for await (const chunk of helper.stdout) {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        const batch = [];
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
  async startHelper(container, script, args, stdin, signal) {
    const exec = await container.exec({
      Cmd: ["/bin/sh", "-c", script, "files.sh", ...args],
      Env: [`PATH=${HELPER_PATH}`, "LANG=C.UTF-8"],
      WorkingDir: "/",
      User: USER,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true
    });
    const stream = await exec.start({ hijack: true, stdin: true });
    const stdout = new PassThrough();
    const stderr = [];
    let stderrBytes = 0;
    const stop = () => stream.destroy();
    signal?.addEventListener("abort", stop, { once: true });
    feed(stream, stdin);
    const done = (async () => {
      try {
        await demultiplex(stream, async (kind, chunk) => {
          if (kind === "stdout") {
            if (!stdout.write(chunk)) await drainedOrClosed(stdout);
          } else if (stderrBytes < 4096) {
            stderr.push(chunk);
            stderrBytes += chunk.length;
          }
        });
      } catch {
      } finally {
        stdout.end();
        signal?.removeEventListener("abort", stop);
      }
      const info = await exec.inspect().catch(() => void 0);
      return info && !info.Running ? info.ExitCode ?? -1 : -1;
    })();
    return {
      stdout,
      done,
      stop,
      failure: async (path) => {
        const code = await done;
        const message = Buffer.concat(stderr).toString().trim() || `${path}: failed (exit ${code})`;
        return new SandboxFileError(FILE_ERRORS[code] ?? "failed", message);
      }
    };
  }
  /** Runs one of our scripts to its end, its output dropped. */
  async runHelper(container, script, args) {
    const exec = await container.exec({
      Cmd: ["/bin/sh", "-c", script, "acontext", ...args],
      Env: [`PATH=${HELPER_PATH}`],
      User: USER,
      AttachStdout: true,
      AttachStderr: true
    });
    const stream = await exec.start({ hijack: true });
    stream.resume();
    await new Promise((resolve) => stream.once("end", resolve).once("close", resolve).once("error", resolve));
  }
  async status(id) {
    const container = this.containers.get(id);
    if (!container) return "gone";
    const info = await container.inspect().catch(() => void 0);
    return info?.State.Running ? "running" : "gone";
  }
  async kill(id) {
    const container = this.containers.get(id);
    this.containers.delete(id);
    if (container) this.reapers.get(container.id)?.close();
    if (container) this.reapers.delete(container.id);
    await container?.remove({ force: true, v: true }).catch((err) => {
      if (err.statusCode !== 404) throw err;
    });
  }
  async killAll() {
    this.closed = true;
    const warm = this.warm.splice(0).map((entry) => entry.container.then((container) => container?.remove({ force: true }).catch(() => {
    })));
    await Promise.all([...warm, ...[...this.containers.keys()].map((id) => this.kill(id))]);
    if (this.network)
      await this.docker.getNetwork(this.networkName()).remove().catch(() => {
      });
  }
  /** Takes back this server's containers still running for the sandboxes in `ids`; removes every other one of this server's. */
  async reconcile(ids) {
    const wanted = new Set(ids);
    const listed = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL_SERVER}=${this.options.namespace}`] } });
    const adopted = [];
    for (const info of listed) {
      const id = info.Names.map((name) => name.replace(/^\//, "")).find((name) => name.startsWith(this.containerName("")))?.slice(this.containerName("").length);
      const container = this.docker.getContainer(info.Id);
      if (id && wanted.has(id) && info.State === "running") {
        this.containers.set(id, container);
        await this.startReaper(container);
        adopted.push(id);
      } else {
        await container.remove({ force: true, v: true }).catch(() => {
        });
      }
    }
    return adopted;
  }
  /** The bridge network this server's sandboxes with network join. */
  networkName() {
    return `acontext-${this.options.namespace.slice(0, 12)}-network`;
  }
  /** A container's name: this server's namespace, then the sandbox id (or "warm-…"). */
  containerName(id) {
    return `acontext-${this.options.namespace.slice(0, 12)}-${id}`;
  }
  live(id) {
    const container = this.containers.get(id);
    if (!container) throw new Error(`sandbox ${id} is not running`);
    return container;
  }
};
var FILE_ERRORS = { 2: "not-found", 3: "not-regular", 4: "denied", 5: "not-directory", 6: "no-space" };

// ../../tmp/review-net/try.ts
import { readFileSync } from "node:fs";
var cmds = JSON.parse(readFileSync("/tmp/review-net/cmds.json", "utf8"));
var b = await DockerBackend.open({ namespace: "review", image: "acontext-test/base:bookworm" });
if ("unavailable" in b) throw new Error(b.unavailable);
var limits = { memoryBytes: 256 * 1024 ** 2, pids: 64, cpus: 0.5, diskBytes: 64 * 1024 ** 2 };
try {
  await b.create({ id: "r1", network: true, limits });
  if (process.env.TWO) await b.create({ id: "r2", network: true, limits });
  for (const c of cmds) {
    const [id, command] = c.startsWith("r2:") ? ["r2", c.slice(3)] : ["r1", c];
    let out = "";
    const code = await b.exec(id, { command, onOutput: (_k, ch) => {
      out += ch.toString();
    } });
    console.log(`=== [${id}] ${command}
${out}--- exit ${code}`);
  }
} finally {
  await b.killAll();
}
