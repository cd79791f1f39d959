# PID 1 of a sandbox, run by the host's perl in the sandbox's new namespaces (create.pl execs it):
# mounts /proc, a minimal /dev, makes /proc/sys read-only, forbids nested user namespaces, points
# DNS at slirp4netns and makes the UNREACHABLE ranges unreachable for a sandbox with network
# (NETWORK), pivots into the sandbox root, brings lo up. Then it gives up everything before the
# sandbox's first command can run: no capabilities, no_new_privs, the seccomp filter, not
# dumpable (no sandbox process may ptrace it), and it runs no program again: it only waits, with
# SIGCHLD ignored, so the kernel reaps the orphans it inherits. One perl process, no modules.
use strict;
# Only stdio: nothing inherited (create.pl closed it already; this holds if it ever did not).
syscall(436, 3, 4294967295, 0);
our ($RDONLY, $NOSUID, $NODEV, $NOEXEC, $REMOUNT, $BIND, $REC);
require "$ENV{HELPER}/mount.pl";
sub link_to { symlink($_[0], $_[1]) or die "init: symlink $_[1]: $!\n"; }
sub prctl { syscall(157, $_[0], $_[1], 0, 0, 0) == 0 or die "init: prctl $_[0]: $!\n"; }
open(my $stat, "<", "/proc/self/stat") or die "init: /proc/self/stat: $!\n";
my ($hostpid) = split(" ", scalar <$stat>);
close($stat);
my $root = "$ENV{S}/rootfs";
mnt($root, $root, "none", $BIND | $REC);
chdir($root) or die "init: $root: $!\n";
mnt("proc", "proc", "proc", $NOSUID | $NODEV | $NOEXEC);
mnt("tmpfs", "dev", "tmpfs", $NOSUID | $NOEXEC, "mode=755,size=64k");
for my $device (qw(null zero full random urandom tty)) {
    put("dev/$device", "");
    mnt("/dev/$device", "dev/$device", "none", $BIND);
}
mkdir("dev/pts") and mkdir("dev/shm") or die "init: mkdir: $!\n";
mnt("devpts", "dev/pts", "devpts", $NOSUID | $NOEXEC, "newinstance,ptmxmode=0666,mode=620");
link_to("pts/ptmx", "dev/ptmx");
mnt("tmpfs", "dev/shm", "tmpfs", $NOSUID | $NODEV, "size=64m");
link_to("/proc/self/fd", "dev/fd");
link_to("/proc/self/fd/$_->[0]", "dev/$_->[1]") for [0, "stdin"], [1, "stdout"], [2, "stderr"];
put("proc/sys/user/max_user_namespaces", "0\n");
put("etc/resolv.conf", "nameserver 10.0.2.3\n") if $ENV{NETWORK};
mnt("proc/sys", "proc/sys", "none", $BIND);
mnt("none", "proc/sys", "none", $REMOUNT | $BIND | $RDONLY | $NOSUID | $NODEV | $NOEXEC);
# (syscall() takes strings by reference: variables, not literals.)
my ($here, $old, $detached, $name) = (".", ".oldroot", "/.oldroot", "sandbox");
mkdir($old);
syscall(155, $here, $old) == 0 or die "init: pivot_root: $!\n";
syscall(166, $detached, 2) == 0 or die "init: umount: $!\n"; # MNT_DETACH
rmdir($detached);
chdir("/") or die "init: chdir /: $!\n";
syscall(170, $name, length $name) == 0 or die "init: sethostname: $!\n";
# lo up: SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP.
socket(my $sock, 2, 2, 0) or die "init: socket: $!\n";
my $ifreq = pack("a16 x24", "lo");
ioctl($sock, 0x8913, $ifreq) or die "init: lo flags: $!\n";
my $flags = unpack("x16 s", $ifreq) | 1;
$ifreq = pack("a16 s x22", "lo", $flags);
ioctl($sock, 0x8914, $ifreq) or die "init: lo up: $!\n";
close($sock);
if ($ENV{NETWORK}) {
    # Run while the sandbox is new: nothing in it can have been replaced yet.
    system("/.sbx/usr/sbin/ip", "route", "add", "unreachable", $_) == 0 or die "init: route $_\n" for split(" ", $ENV{UNREACHABLE});
}

# Nothing held from here on.
open(my $bpf, "<:raw", "/.sbx/seccomp.bpf") or die "init: /.sbx/seccomp.bpf: $!\n";
my $program = do { local $/; <$bpf> };
close($bpf);
open(my $last, "<", "/proc/sys/kernel/cap_last_cap") or die "init: cap_last_cap: $!\n";
my $last_cap = <$last> + 0;
close($last);
prctl(38, 1); # PR_SET_NO_NEW_PRIVS
prctl(24, $_) for 0 .. $last_cap; # PR_CAPBSET_DROP
syscall(157, 47, 4, 0, 0, 0); # PR_CAP_AMBIENT_CLEAR_ALL (before Linux 4.3: none to clear)
my ($header, $none) = (pack("L i", 0x20080522, 0), pack("L6", 0, 0, 0, 0, 0, 0));
syscall(126, $header, $none) == 0 or die "init: capset: $!\n";
my $fprog = pack("S x![P] P", length($program) / 8, $program);
syscall(157, 22, 2, $fprog, 0, 0) == 0 or die "init: seccomp: $!\n";
prctl(4, 0); # PR_SET_DUMPABLE
%ENV = ();
$SIG{CHLD} = "IGNORE";
$| = 1;
print "READY $hostpid\n";
open(STDIN, "<", "/dev/null"); open(STDOUT, ">", "/dev/null"); open(STDERR, ">", "/dev/null");
syscall(34) while 1; # pause
