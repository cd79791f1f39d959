# The docker backend's network fence, run once as root in a network sandbox's container before
# any of its code runs; its arguments are the IPv4 ranges to make unreachable (a.b.c.d/n). The
# engine's bridge puts the container's subnet on-link, and on it are the host (the gateway) and
# the other containers. This makes the default route reach the gateway as an on-link next hop,
# drops the subnet's route, adds an unreachable route for each range, and drops packets to each
# range on output with nftables (broadcast and multicast skip the routes), all over netlink (the
# image need not have iproute2 or nft). The sandbox's commands have no CAP_NET_ADMIN to undo it.
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
my @ranges = map { m{^(\d+\.\d+\.\d+\.\d+)/(\d+)$} ? [pack("C4", split(/\./, $1)), $2] : die "fence: not a range: $_\n" } @ARGV;
route($RTM_NEWROUTE, $CREATE | $EXCL, { dst => $_->[0], bits => $_->[1], protocol => $STATIC, type => $UNREACHABLE }, 17) for @ranges;

# Routes do not hold everything: broadcast (the subnet's, through the local table) and multicast
# or 255.255.255.255 from a bound source address go out without a route lookup. So the same
# ranges are also dropped on output by nftables: a table "acontext" with one rule per range
# (ip daddr & mask == range: drop), one batch over netlink.
my ($NEWTABLE, $NEWCHAIN, $NEWRULE) = map { (10 << 8) | $_ } (0, 3, 6);
my ($BATCH_BEGIN, $BATCH_END, $APPEND, $NESTED, $IPV4) = (0x10, 0x11, 0x800, 0x8000, 2);
sub attribute { my ($type, $value) = @_; my $length = 4 + length $value; return pack("SS", $length, $type) . $value . "\0" x ((4 - $length % 4) % 4); }
sub nested { my ($type, @parts) = @_; return attribute($type | $NESTED, join("", @parts)); }
sub be32 { return pack("N", $_[0]); }
sub expression { my ($name, @data) = @_; return nested(1, attribute(1, "$name\0"), nested(2, @data)); }
my @batch = ([$BATCH_BEGIN, 0, 0, ""], [$NEWTABLE, $CREATE, $IPV4, attribute(1, "acontext\0")]);
push(@batch, [$NEWCHAIN, $CREATE, $IPV4, attribute(1, "acontext\0") . attribute(3, "output\0")
    . nested(4, attribute(1, be32(3)), attribute(2, be32(0))) . attribute(5, be32(1)) . attribute(7, "filter\0")]);
for (@ranges) {
    my ($network, $bits) = @$_;
    my $mask = pack("N", $bits ? (0xffffffff << (32 - $bits)) & 0xffffffff : 0);
    push(@batch, [$NEWRULE, $CREATE | $APPEND, $IPV4, attribute(1, "acontext\0") . attribute(2, "output\0") . nested(4,
        expression("payload", attribute(1, be32(1)), attribute(2, be32(1)), attribute(3, be32(16)), attribute(4, be32(4))),
        expression("bitwise", attribute(1, be32(1)), attribute(2, be32(1)), attribute(3, be32(4)), nested(4, attribute(1, $mask)), nested(5, attribute(1, "\0" x 4))),
        expression("cmp", attribute(1, be32(1)), attribute(2, be32(0)), nested(3, attribute(1, $network & $mask))),
        expression("immediate", attribute(1, be32(0)), nested(2, nested(2, attribute(1, be32(0))))))]);
}
push(@batch, [$BATCH_END, 0, 0, ""]);
socket(my $filter, 16, SOCK_RAW, 12) or die "fence: netlink netfilter: $!\n";
my ($message, $acks) = ("", 0);
for (@batch) {
    my ($type, $flags, $family, $body) = @$_;
    my $batch = $type == $BATCH_BEGIN || $type == $BATCH_END;
    $acks++ unless $batch;
    $body = pack("CCn", $family, 0, $batch ? 10 : 0) . $body;
    $message .= pack("LSSLL", 16 + length $body, $type, $REQUEST | ($batch ? 0 : $ACK) | $flags, ++$seq, 0) . $body;
}
send($filter, $message, 0) or die "fence: send: $!\n";
while ($acks > 0) {
    defined(recv($filter, my $answer, 65536, 0)) or die "fence: recv: $!\n";
    while (length($answer) >= 20) {
        my ($length, $kind, undef, undef, undef, $error) = unpack("LSSLLl", $answer);
        substr($answer, 0, $length < 16 ? length $answer : $length, "");
        next unless $kind == 2;
        if ($error) { $! = -$error; die "fence: nftables: $!\n"; }
        $acks--;
    }
}
