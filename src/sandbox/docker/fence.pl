# The docker backend's network fence, run once as root in a network sandbox's container before
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
open(my $table, "<", "/proc/net/route") or die "fence: /proc/net/route: $!\n";
<$table>;
while (<$table>) {
    my ($name, $dst, $gw, undef, undef, undef, undef, $mask) = split;
    my $bits = unpack("%32b*", pack("L", hex $mask));
    if ($bits == 0) { ($iface, $gateway) = ($name, pack("L", hex $gw)) }
    elsif (hex($gw) == 0) { push(@subnets, [$name, pack("L", hex $dst), $bits]) }
}
close($table);
die "fence: no default route\n" unless defined $iface;
# Its index, by SIOCGIFINDEX on a struct ifreq (a 16-byte name, then the index).
socket(my $probe, AF_INET, SOCK_DGRAM, 0) or die "fence: socket: $!\n";
my $request = pack("a16 x24", $iface);
ioctl($probe, 0x8933, $request) or die "fence: $iface: $!\n";
my $oif = substr($request, 16, 4);

socket(my $netlink, 16, SOCK_RAW, 0) or die "fence: netlink: $!\n";
my $seq = 0;

# One route request; dies with the kernel's error unless it is one of `ok` (errno numbers).
sub route {
    my ($type, $flags, $route, @ok) = @_;
    my $attributes = "";
    for ([$RTA_DST, $route->{dst}], [$RTA_GATEWAY, $route->{gateway}], [$RTA_OIF, $route->{oif}]) {
        $attributes .= pack("SS", 4 + length $_->[1], $_->[0]) . $_->[1] if defined $_->[1];
    }
    my $body = pack("C8L", 2, $route->{bits}, 0, 0, $MAIN, $route->{protocol} // 0, $route->{scope} // 0, $route->{type} // 0, $route->{flags} // 0) . $attributes;
    send($netlink, pack("LSSLL", 16 + length $body, $type, $REQUEST | $ACK | $flags, ++$seq, 0) . $body, 0) or die "fence: send: $!\n";
    defined(recv($netlink, my $answer, 8192, 0)) or die "fence: recv: $!\n";
    my (undef, $kind, undef, undef, undef, $error) = unpack("LSSLLl", $answer);
    return if $kind != 2 || $error == 0 || grep { $_ == -$error } @ok;
    $! = -$error;
    die "fence: route: $!\n";
}

route($RTM_NEWROUTE, $CREATE | $REPLACE, { bits => 0, gateway => $gateway, oif => $oif, protocol => $STATIC, type => $UNICAST, flags => $ONLINK });
route($RTM_DELROUTE, 0, { dst => $_->[1], bits => $_->[2], scope => $NOWHERE }, 3) for grep { $_->[0] eq $iface } @subnets;
for (@ARGV) {
    my ($address, $bits) = m{^(\d+\.\d+\.\d+\.\d+)/(\d+)$} or die "fence: not a range: $_\n";
    route($RTM_NEWROUTE, $CREATE | $EXCL, { dst => pack("C4", split(/\./, $address)), bits => $bits, protocol => $STATIC, type => $UNREACHABLE }, 17);
}
