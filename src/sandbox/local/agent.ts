// The exec agent of a local sandbox, and the server's side of its protocol.
//
// Starting every command through nsenter → setpriv → seccomp → prlimit → chroot costs ~10 ms of
// execs. Instead each sandbox runs one agent, started through that same trusted path (so it has
// exactly the namespaces, cgroups, capabilities, seccomp filter and rlimits of any command, and
// nothing more: sandbox code that takes it over gains nothing). It accepts connections on a
// listening unix socket it inherits as fd 3; the socket's file is in the sandbox's host-side
// state dir, out of the sandbox's sight, mode 0600 for the server's user. Per connection a forked
// handler runs one command and relays it. The server trusts nothing the agent sends beyond its
// own sandbox.
//
// Frames both ways: 1 type byte, a 4-byte big-endian length, the bytes.
//   server → agent: "h" cwd NUL command NUL K=V NUL …   (first frame: run a command)
//                   "t" rows SP cols NUL cwd NUL command NUL K=V …  (the same on a terminal)
//                   "i" stdin bytes; an empty "i" closes the command's stdin
//                   "w" rows SP cols                   (the terminal's new size)
//                   "k" pgid                           (first frame of a kill connection)
//   agent → server: "p" the command's pid (= its process group, inside the sandbox)
//                   "o" stdout bytes, "e" stderr bytes, "x" the exit code (128+N for signal N)
// Closing the connection kills the command's process group; after "x" the agent reads until the
// server closes it.
import { connect, type Socket } from "node:net";
import type { Readable } from "node:stream";
import { encodeFrame as frame, FrameDecoder } from "../../client/frames.js";
import type { Terminal } from "../backend.js";

/** A frame longer than this from the agent is a protocol error (it sends at most 64 KiB). */
const MAX_FRAME = 1 << 20;
const STDIN_FRAME = 64 * 1024;

/**
 * agent.pl FILTER [NPROC DATA]: perl with no modules (each one costs milliseconds of start-up
 * here), so syscalls and constants are x86_64 numbers. Before it serves anything, while it still runs from
 * the read-only host tree: rlimits, no_new_privs, the seccomp filter; then it chroots into the
 * sandbox (its working directory) for good.
 */
export const AGENT_PL = `use strict;
my ($EINTR, $EAGAIN, $ECONNABORTED, $WNOHANG, $F_GETFL, $F_SETFL, $O_NONBLOCK) = (4, 11, 103, 1, 3, 4, 0x800);
sub _exit { syscall(231, $_[0]); }
sub dup2 { syscall(33, $_[0], $_[1]) >= 0 or die "agent: dup2: $!\\n"; }
sub status { my $s = $_[0]; return ($s & 127) ? 128 + ($s & 127) : $s >> 8; }

# RLIMIT_CORE 0, RLIMIT_NOFILE 4096; without cgroups also RLIMIT_NPROC and RLIMIT_DATA.
my ($filter, $nproc, $data) = @ARGV;
my %limits = (4 => 0, 7 => 4096);
$limits{6} = $nproc if $nproc;
$limits{2} = $data if $data;
for my $resource (sort keys %limits) {
    my $limit = pack("Q Q", $limits{$resource}, $limits{$resource});
    syscall(160, $resource + 0, $limit) == 0 or die "agent: setrlimit $resource: $!\\n";
}
open(my $fh, "<:raw", $filter) or die "agent: $filter: $!\\n";
my $program = do { local $/; <$fh> };
close($fh);
syscall(157, 38, 1, 0, 0, 0) == 0 or die "agent: PR_SET_NO_NEW_PRIVS: $!\\n";
my $fprog = pack("S x![P] P", length($program) / 8, $program);
syscall(157, 22, 2, $fprog, 0, 0) == 0 or die "agent: seccomp: $!\\n";
chroot(".") or die "agent: chroot: $!\\n";
chdir("/") or die "agent: chdir: $!\\n";
umask(022);
open(my $listener, "+<&=", 3) or die "agent: fd 3: $!\\n";
syswrite(STDOUT, "READY\\n");
open(STDOUT, ">", "/dev/null");
open(STDERR, ">&", \\*STDOUT);
$SIG{PIPE} = "IGNORE";
$SIG{CHLD} = "IGNORE";
# One handler always waits in accept(), forked ahead: a command does not wait for that fork.
# The handler says when it has a connection (or dies: end of file), and the next one is forked.
while (1) {
    pipe(my $accepted, my $tell) or die "agent: pipe: $!\n";
    my $pid = fork();
    if (!defined $pid) {
        # No process to spare (the pids limit): answer the next caller from here.
        my $conn;
        refuse($conn, "no process to spare (the sandbox's process limit)") if accept($conn, $listener);
        close($conn) if $conn;
        next;
    }
    if ($pid == 0) {
        close($accepted);
        $SIG{CHLD} = "DEFAULT";
        my $conn;
        until (accept($conn, $listener)) {
            _exit(0) unless $! == $EINTR || $! == $ECONNABORTED || $! == $EAGAIN;
        }
        close($tell);
        close($listener);
        handle($conn);
        _exit(0);
    }
    close($tell);
    sysread($accepted, my $byte, 1);
    close($accepted);
}

sub refuse {
    my ($conn, $why) = @_;
    send_frame($conn, "e", "acontext: cannot start the command: $why\\n");
    send_frame($conn, "x", "126");
}

sub send_frame {
    my ($fh, $type, $data) = @_;
    my $msg = $type . pack("N", length $data) . $data;
    while (length $msg) {
        my $n = syswrite($fh, $msg);
        return 0 unless defined $n;
        substr($msg, 0, $n, "");
    }
    return 1;
}

sub read_frame {
    my ($fh) = @_;
    my $buf = "";
    while (length($buf) < 5) { return unless sysread($fh, $buf, 5 - length($buf), length $buf); }
    my ($type, $len) = unpack("a N", $buf);
    return if $len > 1048576;
    $buf = "";
    while (length($buf) < $len) { return unless sysread($fh, $buf, $len - length($buf), length $buf); }
    return ($type, $buf);
}

# A terminal's size: TIOCSWINSZ on the pseudo-terminal's master (the kernel tells the command).
sub set_size {
    my ($master, $size) = @_;
    my ($rows, $cols) = $size =~ /^([0-9]{1,5}) ([0-9]{1,5})$/ or return;
    ioctl($master, 0x5414, pack("S4", $rows, $cols, 0, 0));
}

sub handle {
    my ($conn) = @_;
    my ($type, $body) = read_frame($conn) or return;
    if ($type eq "k") { kill("KILL", -$body) if $body =~ /^[0-9]+$/ && $body > 1; return; }
    return unless $type eq "h" || $type eq "t";
    my ($size, $cwd, $command, @env) = split(/\\0/, ($type eq "h" ? "\\0" : "") . $body, -1);
    my ($in_r, $in_w, $out_r, $out_w, $err_r, $err_w, $master, $pts);
    if ($type eq "t") {
        # A pseudo-terminal: O_RDWR | O_NOCTTY on /dev/ptmx, TIOCSPTLCK 0 (unlock), TIOCGPTN (its number).
        sysopen($master, "/dev/ptmx", 2 | 0400) or return refuse($conn, "no pseudo-terminal: $!");
        my ($unlock, $number) = (pack("i", 0), pack("i", 0));
        ioctl($master, 0x40045431, $unlock) or return refuse($conn, "no pseudo-terminal: $!");
        ioctl($master, 0x80045430, $number) or return refuse($conn, "no pseudo-terminal: $!");
        $pts = "/dev/pts/" . unpack("i", $number);
        set_size($master, $size);
        # Output and input both go through the master; input through a second descriptor, which
        # can be closed at the end of stdin without closing the terminal.
        $out_r = $master;
        open($in_w, "+<&", $master) or return refuse($conn, $!);
    } else {
        pipe($in_r, $in_w) or return;
        pipe($out_r, $out_w) or return;
        pipe($err_r, $err_w) or return;
    }
    my $pid = fork();
    return refuse($conn, $!) unless defined $pid;
    if ($pid == 0) {
        syscall(112); # setsid: the command leads its own process group
        $SIG{PIPE} = "DEFAULT";
        if ($pts) {
            # Opened by a session leader with no terminal, it becomes the controlling terminal.
            sysopen(my $slave, $pts, 2) or _exit(126);
            dup2(fileno($slave), $_) for 0 .. 2;
        } else {
            dup2(fileno($in_r), 0);
            dup2(fileno($out_w), 1);
            dup2(fileno($err_w), 2);
        }
        unless (chdir($cwd)) { print STDERR "sh: cd: $cwd: $!\\n"; _exit(2); }
        %ENV = map { split(/=/, $_, 2) } @env;
        exec { "/bin/sh" } "sh", "-c", $command;
        print STDERR "acontext: cannot run /bin/sh: $!\\n";
        _exit(127);
    }
    close($in_r) if $in_r; close($out_w) if $out_w; close($err_w) if $err_w;
    my $gone = sub { kill("KILL", -$pid); _exit(0); };
    send_frame($conn, "p", $pid) or $gone->();
    # A pidfd turns the command's exit into a readable fd: no signal races.
    my $pidfd = syscall(434, $pid, 0);
    fcntl($in_w, $F_SETFL, fcntl($in_w, $F_GETFL, 0) | $O_NONBLOCK);
    my %out = $pts ? (o => $out_r) : (o => $out_r, e => $err_r);
    my ($inbuf, $stdin, $stdin_eof, $status) = ("", "", 0, undef);
    while (%out) {
        my ($rin, $win) = ("", "");
        vec($rin, fileno($_), 1) = 1 for values %out;
        # The connection is read only while the command has taken all stdin so far (backpressure);
        # after the exit, not at all (the last output is being drained).
        vec($rin, fileno($conn), 1) = 1 if !defined $status && !length $stdin;
        vec($rin, $pidfd, 1) = 1 if !defined $status && $pidfd >= 0;
        vec($win, fileno($in_w), 1) = 1 if $in_w && length $stdin;
        # After the exit: a background process may hold the pipes; stop after 50 ms of silence.
        # (Without pidfds, before Linux 5.3, the exit is polled.)
        my $n = select(my $rout = $rin, my $wout = $win, undef, defined $status || $pidfd < 0 ? 0.05 : undef);
        if ($n < 0) { next if $! == $EINTR; last; }
        last if $n == 0 && defined $status;
        if (!defined $status && ($pidfd < 0 || vec($rout, $pidfd, 1))) {
            if (waitpid($pid, $WNOHANG) == $pid) {
                $status = status($?);
                close($in_w) if $in_w; $in_w = undef;
            }
        }
        for my $kind (keys %out) {
            next unless vec($rout, fileno($out{$kind}), 1);
            my $got = sysread($out{$kind}, my $chunk, 65536);
            next if !defined $got && $! == $EAGAIN; # the terminal's master shares O_NONBLOCK with its input side
            if ($got) { send_frame($conn, $kind, $chunk) or $gone->(); }
            else { close($out{$kind}); delete $out{$kind}; }
        }
        if (vec($rout, fileno($conn), 1)) {
            sysread($conn, $inbuf, 65536, length $inbuf) or $gone->();
            while (length($inbuf) >= 5) {
                my ($type, $len) = unpack("a N", $inbuf);
                $gone->() if $len > 1048576;
                last if length($inbuf) < 5 + $len;
                my $data = substr($inbuf, 5, $len);
                substr($inbuf, 0, 5 + $len, "");
                if ($type eq "w" && $master) { set_size($master, $data); next; }
                next unless $type eq "i" && $in_w;
                if (length $data) { $stdin .= $data } else { $stdin_eof = 1 }
            }
        }
        if ($in_w && vec($wout, fileno($in_w), 1)) {
            my $wrote = syswrite($in_w, $stdin);
            if (defined $wrote) { substr($stdin, 0, $wrote, "") }
            elsif ($! != $EAGAIN) { $stdin = ""; close($in_w); $in_w = undef; }
        }
        if ($in_w && $stdin_eof && !length $stdin) { close($in_w); $in_w = undef; }
    }
    $status = status(waitpid($pid, 0) == $pid ? $? : 0) unless defined $status;
    send_frame($conn, "x", $status);
    # Read until the server closes: closing with its stdin unread would reset the connection, and
    # the server could lose the exit status to a failed write.
    shutdown($conn, 1);
    1 while sysread($conn, my $rest, 65536);
}
`;

export interface AgentRequest {
  command: string;
  cwd: string;
  env: Record<string, string>;
  stdin?: Readable;
  /** Run on a pseudo-terminal: one output stream ("stdout"), input as typed. */
  tty?: Terminal;
}

export interface AgentHooks {
  /** May return a promise: the command's output waits until it settles (backpressure). */
  onOutput: (stream: "stdout" | "stderr", chunk: Buffer) => void | Promise<void>;
}

/** The connection could not be made: nobody accepts on the socket (the agent is gone). */
export class AgentUnreachable extends Error {}

/** One command run by the agent. `done` settles with its exit code, or null if the connection broke. */
export interface AgentRun {
  done: Promise<number | null>;
  /** Ends the command now: closes the connection and asks the agent to kill its process group. */
  kill(): void;
}

function open(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: socketPath });
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      reject(err.code === "ECONNREFUSED" || err.code === "ENOENT" ? new AgentUnreachable(err.message) : err);
    });
  });
}

/**
 * Runs one command through the agent listening at `socketPath`. Settles once the command has
 * started (or failed to); a connection that closes before then ran nothing and took no stdin, so
 * it is reported as AgentUnreachable and can be retried.
 */
export async function agentRun(socketPath: string, request: AgentRequest, hooks: AgentHooks): Promise<AgentRun> {
  const socket = await open(socketPath);
  const env = Object.entries(request.env).map(([k, v]) => `${k}=${v}`);
  const fields = [request.cwd, request.command, ...env];
  const tty = request.tty;
  socket.write(tty ? frame("t", [`${tty.rows} ${tty.cols}`, ...fields].join("\0")) : frame("h", fields.join("\0")));
  // Resizes follow the command frame, ahead of any input.
  tty?.onResize?.((size) => socket.writable && socket.write(frame("w", `${size.rows} ${size.cols}`)));

  let pgid = 0;
  let exitCode: number | null = null;
  let finished = false;
  const decoder = new FrameDecoder(MAX_FRAME);
  let started: (ok: boolean) => void = () => {};
  const start = new Promise<boolean>((resolve) => (started = resolve));
  const done = new Promise<number | null>((resolve) => {
    socket.on("data", (data: Buffer) => {
      let frames;
      try {
        frames = decoder.push(data);
      } catch {
        return socket.destroy();
      }
      for (const { type, data: body } of frames) {
        if (type === "p") {
          pgid = Number(body.toString());
          started(true);
        } else if (type === "x") {
          exitCode = Number(body.toString());
          started(true);
        } else if (type === "o" || type === "e") {
          const paused = hooks.onOutput(type === "o" ? "stdout" : "stderr", Buffer.from(body));
          if (paused instanceof Promise) {
            socket.pause();
            paused.finally(() => socket.resume()).catch(() => {});
          }
        }
      }
      if (exitCode !== null) socket.destroy();
    });
    socket.on("error", () => {});
    socket.once("close", () => {
      finished = true;
      started(false);
      resolve(Number.isInteger(exitCode) ? exitCode : null);
    });
  });
  if (!(await start)) throw new AgentUnreachable("the exec agent closed the connection before starting the command");
  sendStdin(socket, request.stdin);
  return {
    done,
    kill() {
      if (finished) return; // its process group may be gone and its id reused
      socket.destroy();
      // The agent's handler kills on a closed connection unless it is stuck behind unread stdin;
      // a second connection makes sure.
      if (pgid > 1) {
        open(socketPath)
          .then((killer) => killer.end(frame("k", String(pgid))))
          .catch(() => {});
      }
    },
  };
}

/** Streams stdin as frames, at the pace the agent takes them; an empty frame closes it. */
function sendStdin(socket: Socket, stdin: Readable | undefined): void {
  if (!stdin) {
    socket.write(frame("i", ""));
    return;
  }
  stdin.on("data", (data: Buffer | string) => {
    const chunk = typeof data === "string" ? Buffer.from(data) : data;
    let ok = true;
    for (let at = 0; at < chunk.length; at += STDIN_FRAME) ok = socket.write(frame("i", chunk.subarray(at, at + STDIN_FRAME)));
    if (!ok) stdin.pause();
  });
  socket.on("drain", () => stdin.resume());
  stdin.once("end", () => socket.writable && socket.write(frame("i", "")));
  stdin.once("error", () => socket.destroy());
  socket.once("close", () => stdin.resume()); // let an unread source drain instead of hanging
}
