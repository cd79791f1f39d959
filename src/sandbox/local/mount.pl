# What the set-up scripts share (required by create.pl and init.pl): mount(2) and its flags, and
# writing a small file, for perl without modules.
use strict;
our ($RDONLY, $NOSUID, $NODEV, $NOEXEC, $REMOUNT, $BIND, $REC) = (1, 2, 4, 8, 32, 4096, 16384);
sub mnt {
    my ($source, $target, $type, $flags, $data) = @_;
    syscall(165, $source, $target, $type, $flags, defined $data ? $data : 0) == 0 or die "acontext: mount $target: $!\n";
}
sub put {
    my ($file, $text) = @_;
    open(my $fh, ">", $file) or die "acontext: $file: $!\n";
    print $fh $text;
    close($fh) or die "acontext: $file: $!\n";
}
1;
