# The exec agent of a local sandbox (protocol: agent.ts). perl with no modules: each one costs
# milliseconds of start-up, so syscalls and constants are x86_64 numbers.
#
# agent.pl FILTER [NPROC DATA]. Before it serves anything, while it still runs from the read-only
# host tree: rlimits, no_new_privs, the seccomp filter, not dumpable (no sandbox process may
# ptrace it or read its memory); then it chroots into the sandbox (its working directory) for good.
# Handlers, forked one per connection, run commands and do file transfers themselves, so nothing
# the sandbox can replace (cat, find, mkdir) is run for a transfer.
use strict;
my ($EINTR, $EAGAIN, $EEXIST, $ECONNABORTED) = (4, 11, 17, 103);
my ($WNOHANG, $F_GETFL, $F_SETFL) = (1, 3, 4);
my ($O_RDONLY, $O_WRONLY, $O_CREAT, $O_TRUNC, $O_NOCTTY, $O_NONBLOCK) = (0, 1, 0100, 01000, 0400, 04000);
my ($S_IFMT, $S_IFREG, $S_IFDIR) = (0170000, 0100000, 0040000);
my $MAX_FRAME = 1048576;
sub _exit { syscall(231, $_[0]); }
sub prctl { syscall(157, $_[0], $_[1], 0, 0, 0); }
sub dup2 { syscall(33, $_[0], $_[1]) >= 0 or die "agent: dup2: $!\n"; }
sub status { my $s = $_[0]; return ($s & 127) ? 128 + ($s & 127) : $s >> 8; }

# RLIMIT_CORE 0, RLIMIT_NOFILE 4096; without cgroups also RLIMIT_NPROC and RLIMIT_DATA.
my ($filter, $nproc, $data) = @ARGV;
my %limits = (4 => 0, 7 => 4096);
$limits{6} = $nproc if $nproc;
$limits{2} = $data if $data;
for my $resource (sort keys %limits) {
    my $limit = pack("Q Q", $limits{$resource}, $limits{$resource});
    syscall(160, $resource + 0, $limit) == 0 or die "agent: setrlimit $resource: $!\n";
}
# Dies with the nsenter that waits for it on the host, so the server can always end it.
prctl(1, 9) == 0 or die "agent: PR_SET_PDEATHSIG: $!\n";
open(my $fh, "<:raw", $filter) or die "agent: $filter: $!\n";
my $program = do { local $/; <$fh> };
close($fh);
prctl(38, 1) == 0 or die "agent: PR_SET_NO_NEW_PRIVS: $!\n";
my $fprog = pack("S x![P] P", length($program) / 8, $program);
syscall(157, 22, 2, $fprog, 0, 0) == 0 or die "agent: seccomp: $!\n";
prctl(4, 0) == 0 or die "agent: PR_SET_DUMPABLE: $!\n";
chroot(".") or die "agent: chroot: $!\n";
chdir("/") or die "agent: chdir: $!\n";
umask(022);
# Only stdio and the listening socket: nothing inherited (bind.pl closed it; this holds if it did not).
syscall(436, 4, 4294967295, 0);
open(my $listener, "+<&=", 3) or die "agent: fd 3: $!\n";
syswrite(STDOUT, "READY\n");
open(STDOUT, ">", "/dev/null");
open(STDERR, ">&", \*STDOUT);
$SIG{PIPE} = "IGNORE";
$SIG{CHLD} = "IGNORE";
# One handler always waits in accept(), forked ahead: a command does not wait for that fork.
# The handler says when it has a connection (or dies: end of file), and the next one is forked.
my $agent = $$;
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
        # While it waits it holds the listening socket: it must not outlive the agent.
        prctl(1, 9);
        _exit(0) if getppid() != $agent;
        my $conn;
        until (accept($conn, $listener)) {
            _exit(0) unless $! == $EINTR || $! == $ECONNABORTED || $! == $EAGAIN;
        }
        prctl(1, 0);
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
    send_frame($conn, "e", "acontext: cannot start the command: $why\n");
    send_frame($conn, "x", "126");
}

# A failed file operation: "ERRNO PATH: message", from $! (so called first thing after the failure).
sub failed {
    my ($conn, $path) = @_;
    my $errno = $! + 0;
    send_frame($conn, "f", "$errno $path: $!");
}

sub not_regular { send_frame($_[0], "f", "notreg $_[1]: not a regular file"); }

sub send_frame {
    my ($fh, $type, $data) = @_;
    my $msg = $type . pack("N", length $data) . $data;
    while (length $msg) {
        my $n = syswrite($fh, $msg);
        if (!defined $n) { next if $! == $EINTR; return 0; }
        substr($msg, 0, $n, "");
    }
    return 1;
}

sub read_frame {
    my ($fh) = @_;
    my $buf = "";
    while (length($buf) < 5) { return unless sysread($fh, $buf, 5 - length($buf), length $buf); }
    my ($type, $len) = unpack("a N", $buf);
    return if $len > $MAX_FRAME;
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
    return kill_tree($body) if $type eq "k";
    return read_file($conn, $body) if $type eq "r";
    return write_file($conn, $body) if $type eq "W";
    return list_tree($conn, $body) if $type eq "l";
    return stat_path($conn, $body) if $type eq "s";
    return run_command($conn, $type, $body) if $type eq "h" || $type eq "t";
}

# The parent pid in /proc/PID/stat, after the command name (which may hold spaces and ")").
sub parent_of {
    open(my $stat, "<", "/proc/$_[0]/stat") or return 0;
    my $line = <$stat>;
    return $line =~ /^.*\) \S+ ([0-9]+)/s ? $1 : 0;
}

sub descendants {
    my ($root) = @_;
    my %children;
    opendir(my $proc, "/proc") or return ();
    for my $pid (grep { /^[0-9]+$/ } readdir($proc)) { push(@{ $children{ parent_of($pid) } }, $pid); }
    my @found;
    my @todo = ($root);
    while (@todo) {
        my $pid = shift(@todo);
        for my $child (@{ $children{$pid} || [] }) { push(@found, $child); push(@todo, $child); }
    }
    return @found;
}

# Every process under a handler dies: a handler is a child subreaper, so what its command started
# stays under it even after setsid or a double fork. Killed until none is left (a fork bomb's
# children are found in the next round; the pids limit bounds them).
sub kill_descendants {
    my ($root) = @_;
    for (1 .. 1000) {
        my @pids = descendants($root);
        last unless @pids;
        kill("KILL", @pids);
    }
}

# "k": a kill connection for a handler stuck behind unread stdin. Only a sibling (another handler
# of this agent) is accepted: never PID 1 or a command.
sub kill_tree {
    my ($handler) = @_;
    return unless $handler =~ /^[0-9]+$/ && $handler > 1 && parent_of($handler) == getppid();
    kill_descendants($handler);
}

# "r" PATH: the bytes of a regular file. Opened without blocking (a FIFO would wait for a writer),
# refused unless regular (FIFOs, devices and sockets can be endless), sized, then streamed.
sub read_file {
    my ($conn, $path) = @_;
    sysopen(my $file, $path, $O_RDONLY | $O_NONBLOCK | $O_NOCTTY) or return failed($conn, $path);
    my @st = stat($file) or return failed($conn, $path);
    return not_regular($conn, $path) if ($st[2] & $S_IFMT) != $S_IFREG;
    send_frame($conn, "s", $st[7]) or return;
    while (1) {
        my $got = sysread($file, my $chunk, 65536);
        if (!defined $got) { next if $! == $EINTR || $! == $EAGAIN; return failed($conn, $path); }
        last unless $got;
        send_frame($conn, "o", $chunk) or return;
    }
    send_frame($conn, "x", "0");
}

# "W" PATH, then "i" frames of bytes, an empty one at the end: writes a regular file, its parents
# made as needed. Anything else at the path (a FIFO, a device) is refused.
sub write_file {
    my ($conn, $path) = @_;
    my @parts = split(m{/}, $path);
    pop(@parts);
    my $dir = "";
    for my $part (@parts) {
        $dir .= "$part/";
        next if $part eq "" || -d $dir;
        mkdir($dir, 0755) or $! == $EEXIST or return failed($conn, $dir);
    }
    sysopen(my $file, $path, $O_WRONLY | $O_CREAT | $O_TRUNC | $O_NONBLOCK | $O_NOCTTY, 0644) or return failed($conn, $path);
    my @st = stat($file) or return failed($conn, $path);
    return not_regular($conn, $path) if ($st[2] & $S_IFMT) != $S_IFREG;
    while (1) {
        my ($type, $bytes) = read_frame($conn) or return;
        next unless $type eq "i";
        last unless length $bytes;
        while (length $bytes) {
            my $wrote = syswrite($file, $bytes);
            if (!defined $wrote) { next if $! == $EINTR || $! == $EAGAIN; return failed($conn, $path); }
            substr($bytes, 0, $wrote, "");
        }
    }
    close($file) or return failed($conn, $path);
    send_frame($conn, "x", "0");
}

# "s" PATH: what is there, symbolic links followed inside the sandbox: "x" with "file", "dir" or
# "other" (a FIFO, a device, a socket); nothing there is "f" with ENOENT.
sub stat_path {
    my ($conn, $path) = @_;
    my @st = stat($path) or return failed($conn, $path);
    my $kind = $st[2] & $S_IFMT;
    send_frame($conn, "x", $kind == $S_IFREG ? "file" : $kind == $S_IFDIR ? "dir" : "other");
}

# "l" DIR: the regular files under DIR, as "d" frames of "SIZE NUL RELATIVE-PATH NUL" records,
# then "x". Symbolic links are not followed or listed. Streamed: the server stops reading (and
# this ends) once it has seen as many as it takes.
sub list_tree {
    my ($conn, $root) = @_;
    opendir(my $top, $root) or return failed($conn, $root);
    my @stack = ([$top, ""]);
    my $batch = "";
    while (@stack) {
        my ($dh, $rel) = @{ $stack[-1] };
        my $name = readdir($dh);
        if (!defined $name) { closedir($dh); pop(@stack); next; }
        next if $name eq "." || $name eq "..";
        my $path = $rel eq "" ? $name : "$rel/$name";
        my @st = lstat("$root/$path") or next;
        my $kind = $st[2] & $S_IFMT;
        if ($kind == $S_IFDIR) {
            if (opendir(my $sub, "$root/$path")) { push(@stack, [$sub, $path]); }
        } elsif ($kind == $S_IFREG) {
            $batch .= "$st[7]\0$path\0";
        }
        if (length($batch) >= 65536) { send_frame($conn, "d", $batch) or return; $batch = ""; }
    }
    (!length($batch) || send_frame($conn, "d", $batch)) and send_frame($conn, "x", "0");
}

sub run_command {
    my ($conn, $type, $body) = @_;
    # What the command starts stays below this handler, wherever it goes (see kill_descendants).
    prctl(36, 1);
    my ($size, $cwd, $command, @env) = split(/\0/, ($type eq "h" ? "\0" : "") . $body, -1);
    my ($in_r, $in_w, $out_r, $out_w, $err_r, $err_w, $master, $pts);
    if ($type eq "t") {
        # A pseudo-terminal: O_RDWR | O_NOCTTY on /dev/ptmx, TIOCSPTLCK 0 (unlock), TIOCGPTN (its number).
        sysopen($master, "/dev/ptmx", 2 | $O_NOCTTY) or return refuse($conn, "no pseudo-terminal: $!");
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
        unless (chdir($cwd)) { print STDERR "sh: cd: $cwd: $!\n"; _exit(2); }
        %ENV = map { split(/=/, $_, 2) } @env;
        exec { "/bin/sh" } "sh", "-c", $command;
        print STDERR "acontext: cannot run /bin/sh: $!\n";
        _exit(127);
    }
    close($in_r) if $in_r; close($out_w) if $out_w; close($err_w) if $err_w;
    my $gone = sub { kill_descendants($$); _exit(0); };
    # The handler's own pid names this command to a kill connection.
    send_frame($conn, "p", $$) or $gone->();
    # A pidfd turns the command's exit into a readable fd: no signal races.
    my $pidfd = syscall(434, $pid, 0);
    fcntl($in_w, $F_SETFL, fcntl($in_w, $F_GETFL, 0) | $O_NONBLOCK);
    my %out = $pts ? (o => $out_r) : (o => $out_r, e => $err_r);
    my ($inbuf, $stdin, $stdin_eof, $status) = ("", "", 0, undef);
    while (%out) {
        # Orphans of the command come to this handler (a subreaper): reap them as they end.
        while ((my $reaped = waitpid(-1, $WNOHANG)) > 0) {
            next unless $reaped == $pid;
            $status = status($?);
            close($in_w) if $in_w; $in_w = undef;
        }
        my ($rin, $win) = ("", "");
        vec($rin, fileno($_), 1) = 1 for values %out;
        # The connection is read only while the command has taken all stdin so far (backpressure);
        # after the exit, not at all (the last output is being drained).
        vec($rin, fileno($conn), 1) = 1 if !defined $status && !length $stdin;
        vec($rin, $pidfd, 1) = 1 if !defined $status && $pidfd >= 0;
        vec($win, fileno($in_w), 1) = 1 if $in_w && length $stdin;
        # After the exit: a background process may hold the pipes; stop after 50 ms of silence.
        # Before it: wake at least every second to reap orphans (and, before Linux 5.3 and its
        # pidfds, to notice the exit).
        my $n = select(my $rout = $rin, my $wout = $win, undef, defined $status ? 0.05 : 1);
        if ($n < 0) { next if $! == $EINTR; last; }
        last if $n == 0 && defined $status;
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
                $gone->() if $len > $MAX_FRAME;
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
    1 while waitpid(-1, $WNOHANG) > 0; # orphans that ended meanwhile count against the pids limit
    send_frame($conn, "x", $status);
    # Read until the server closes: closing with its stdin unread would reset the connection, and
    # the server could lose the exit status to a failed write.
    shutdown($conn, 1);
    1 while sysread($conn, my $rest, 65536);
}
