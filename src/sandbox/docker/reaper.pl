# The docker backend's reaper: one process per sandbox container, started with it, that kills
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
    my $needle = "\0ACONTEXT_EXEC=$marker\0";
    for my $round (1 .. 1000) {
        my @found;
        opendir(my $proc, "/proc") or last;
        for my $pid (grep { /^[0-9]+$/ } readdir($proc)) {
            next if $pid == $$;
            open(my $fh, "<", "/proc/$pid/environ") or next;
            my $environ = do { local $/; <$fh> };
            close($fh);
            push(@found, $pid) if defined $environ && index("\0$environ", $needle) >= 0;
        }
        closedir($proc);
        last unless @found;
        kill("KILL", @found);
    }
    print "done $marker\n";
}
