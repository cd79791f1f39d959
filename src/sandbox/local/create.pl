# The creation chain of a sandbox, run by the server with the host's perl: joins the sandbox's
# cgroups, makes its user namespace, then in a private mount namespace builds its root and starts
# PID 1 (init.pl) in new namespaces. Environment: S (the sandbox's folder), B and RANGE (its uid
# range, as root), DISK (bytes), BASE (the /etc skeleton), HELPER (the read-only helper tree),
# CGROUPS, and for init.pl NETWORK and UNREACHABLE.
#
# As root it makes the holder, a child in a new user namespace given the sandbox's uid range (it
# keeps the namespace alive while the root is built, and prints "HOLDER <pid>"); as a user, it
# enters a user namespace that maps only that user to root (no uid range, no idmapped mounts: the
# host /usr and the skeleton stay owned by nobody inside, so /usr is read-only). Then a private
# mount namespace: nothing leaks into the host's mount table, everything vanishes with the sandbox.
#
# The root: a size-capped tmpfs for the writable layers; overlays over the skeleton and the host
# /usr (as root, idmapped into the sandbox's uid range with open_tree + mount_setattr +
# move_mount: util-linux 2.39 has `mount -o X-mount.idmap`, Debian 12 has 2.38); the read-only
# helper tree at /.sbx. One perl process (no modules) instead of a dozen `mount` commands.
#
# The chain is one process (each step execs the next) whose child is PID 1: it gets SIGKILL when
# the server dies (pdeathsig, set after entering the user namespace, which would reset it), and
# unshare --kill-child takes PID 1, so the whole sandbox, with it. PID 1 prints "READY <host pid>".
use strict;
# Nothing the server inherited reaches the sandbox: every descriptor above stderr is closed
# (close_range), before anything else runs.
if (syscall(436, 3, 4294967295, 0) != 0) { # before Linux 5.9: one by one
    opendir(my $fds, "/proc/self/fd") or die "root: /proc/self/fd: $!\n";
    my @inherited = grep { /^[0-9]+$/ && $_ > 2 } readdir($fds);
    closedir($fds);
    syscall(3, $_ + 0) for @inherited;
}
our ($RDONLY, $NOSUID, $NODEV, $REMOUNT, $BIND, $REC);
require "$ENV{HELPER}/mount.pl";
my ($CLONE_NEWNS, $CLONE_NEWUSER, $PRIVATE) = (0x20000, 0x10000000, 1 << 18);
put("$_/cgroup.procs", "$$\n") for split(" ", $ENV{CGROUPS});
$| = 1;
if ($ENV{B}) {
    pipe(my $ready, my $tell) or die "root: pipe: $!\n";
    my $holder = fork();
    die "root: fork: $!\n" unless defined $holder;
    if ($holder == 0) {
        close($ready);
        # The user namespace is made by the sandbox's own first host uid, not by root: the kernel
        # charges per-user counts (inotify and fanotify instances, message queues, …) to the
        # namespace's owner, so a sandbox exhausts its own, never root's. setgroups, setresgid,
        # setresuid; root (the parent) still writes the maps.
        my ($none, $B) = ("", $ENV{B} + 0);
        syscall(116, 0, $none) == 0 or die "root: setgroups: $!\n";
        syscall(119, $B, $B, $B) == 0 or die "root: setresgid: $!\n";
        syscall(117, $B, $B, $B) == 0 or die "root: setresuid: $!\n";
        syscall(272, $CLONE_NEWUSER) == 0 or die "root: unshare user: $!\n";
        close($tell);
        select(undef, undef, undef, 600); # until the server kills it, once PID 1 is up
        exit(0);
    }
    close($tell);
    # End of file on the pipe: the holder is in its namespace (or gone; the maps then fail).
    sysread($ready, my $byte, 1);
    put("/proc/$holder/$_", "0 $ENV{B} $ENV{RANGE}\n") for qw(uid_map gid_map);
    print "HOLDER $holder\n";
    $ENV{H} = $holder;
} else {
    my ($uid, $gid) = ($<, $( + 0);
    syscall(272, $CLONE_NEWUSER) == 0 or die "root: unshare user: $!\n";
    put("/proc/self/setgroups", "deny");
    put("/proc/self/uid_map", "0 $uid 1\n");
    put("/proc/self/gid_map", "0 $gid 1\n");
}
syscall(272, $CLONE_NEWNS) == 0 or die "root: unshare mount: $!\n";
mnt("none", "/", "none", $REC | $PRIVATE);

sub idmapped {
    my ($userns, $source, $target) = @_;
    my ($empty, $AT_FDCWD) = ("", -100);
    # open_tree(OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE), mount_setattr(MOUNT_ATTR_IDMAP), move_mount.
    my $fd = syscall(428, $AT_FDCWD, $source, 1 | 02000000 | 0x8000);
    die "root: open_tree $source: $!\n" if $fd < 0;
    my $attr = pack("Q Q Q Q", 0x100000, 0, 0, fileno($userns));
    syscall(442, $fd, $empty, 0x1000 | 0x8000, $attr, length $attr) == 0 or die "root: mount_setattr $source: $!\n";
    syscall(429, $fd, $empty, $AT_FDCWD, $target, 4) == 0 or die "root: move_mount $target: $!\n";
    syscall(3, $fd);
}
my ($S, $base, $holder) = ($ENV{S}, $ENV{BASE}, $ENV{H});
mnt("acontext-disk", "$S/disk", "tmpfs", 0, "size=$ENV{DISK},mode=0755");
mkdir("$S/disk/$_") or die "root: mkdir $_: $!\n" for qw(root.u root.w usr.u usr.w);
my ($root_lower, $usr_lower) = ($base, "/usr");
if ($holder) {
    chown($ENV{B}, $ENV{B}, "$S/disk/root.u", "$S/disk/usr.u") == 2 or die "root: chown: $!\n";
    open(my $userns, "<", "/proc/$holder/ns/user") or die "root: user namespace of $holder: $!\n";
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
chdir("$S/rootfs") or die "root: $S/rootfs: $!\n";
my @init = ("/usr/bin/setpriv", "--pdeathsig", "KILL", "/usr/bin/unshare", "--mount", "--pid", "--net", "--uts", "--ipc", "--cgroup",
    "--fork", "--kill-child", "--propagation", "private", "--", "/usr/bin/perl", "$ENV{HELPER}/init.pl");
unshift(@init, "/usr/bin/nsenter", "--user=/proc/$holder/ns/user", "--") if $holder;
exec { $init[0] } @init or die "root: exec $init[0]: $!\n";
