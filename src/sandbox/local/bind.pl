# Run as root on the host, first in an exec agent's chain: joins the sandbox's cgroups (CGROUPS),
# binds the agent's socket in the sandbox's state dir (S), which the sandbox cannot see,
# root-only, and execs the rest of the chain (its arguments) with the socket as fd 3. No modules:
# each costs milliseconds of start-up.
use strict;
for my $cgroup (split(" ", $ENV{CGROUPS})) {
    open(my $procs, ">", "$cgroup/cgroup.procs") or die "agent: $cgroup: $!\n";
    syswrite($procs, "$$\n") or die "agent: joining $cgroup: $!\n";
    close($procs);
}
chdir($ENV{S}) or die "agent: $ENV{S}: $!\n";
unlink("agent.sock");
$^F = 3;
socket(my $s, 1, 1, 0) or die "agent: socket: $!\n"; # AF_UNIX, SOCK_STREAM
my $mask = umask(077);
bind($s, pack("S Z*", 1, "agent.sock")) or die "agent: bind: $!\n";
umask($mask);
listen($s, 128) or die "agent: listen: $!\n";
if (fileno($s) != 3) { syscall(33, fileno($s), 3) == 3 or die "agent: dup2: $!\n"; }
# Nothing else the server inherited goes on into the sandbox (close_range above the socket).
if (syscall(436, 4, 4294967295, 0) != 0) { # before Linux 5.9: one by one
    opendir(my $fds, "/proc/self/fd") or die "agent: /proc/self/fd: $!\n";
    my @inherited = grep { /^[0-9]+$/ && $_ > 3 } readdir($fds);
    closedir($fds);
    syscall(3, $_ + 0) for @inherited;
}
exec { $ARGV[0] } @ARGV or die "agent: exec $ARGV[0]: $!\n";
