// What a sandbox with network may not reach, whatever the backend.
import { networkInterfaces } from "node:os";

/**
 * Out of reach even with network: private, shared and link-local ranges (the host's LAN, cloud
 * metadata at 169.254.169.254), "this network", multicast and reserved ranges, and every address
 * of the host's own interfaces (hostAddresses). Unreachable routes in the sandbox's own network
 * namespace, which its commands cannot change (no CAP_NET_ADMIN). Each backend adds them its own way.
 */
const UNREACHABLE_NETS = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4"];

/**
 * The ranges a network sandbox may not reach, read at each create: the fixed ones, the host's own
 * addresses and the networks they are on (the host's LAN, whatever its range), less any network
 * that overlaps `except` (a backend's own, such as slirp4netns's 10.0.2.0/24).
 */
export function unreachableNets(except?: string): string[] {
  const networks = hostNetworks().filter((network) => !except || !overlap(network, except));
  return [...new Set([...UNREACHABLE_NETS, ...hostAddresses(), ...networks])];
}

/** The networks of the host's own IPv4 interfaces, as a.b.c.d/n with the host bits cleared. */
export function hostNetworks(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((address) => address?.family === "IPv4" && !address.internal && address.cidr)
    .map((address) => {
      const [start] = span(address!.cidr!);
      return `${[24, 16, 8, 0].map((shift) => (start >>> shift) & 255).join(".")}/${address!.cidr!.split("/")[1]}`;
    });
}

/** The first and last address of a range, as numbers. */
function span(range: string): [number, number] {
  const [address, bits] = range.split("/");
  const value = address!.split(".").reduce((sum, part) => sum * 256 + Number(part), 0);
  const size = 2 ** (32 - Number(bits));
  const start = value - (value % size);
  return [start, start + size - 1];
}

function overlap(a: string, b: string): boolean {
  const [aStart, aEnd] = span(a);
  const [bStart, bEnd] = span(b);
  return aStart <= bEnd && bStart <= aEnd;
}

/**
 * The host's own IPv4 addresses, as /32s: a sandbox's traffic leaves through the host (slirp4netns
 * makes its connections with host sockets; an engine's bridge routes it), so without these routes
 * it could reach host services bound to 0.0.0.0 through them (sandboxes get no IPv6). Read at
 * each create, so a later change of address is covered for sandboxes made after it.
 */
export function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((address) => address?.family === "IPv4" && !address.internal)
    .map((address) => `${address!.address}/32`);
}
