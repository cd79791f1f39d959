// What a sandbox with network may not reach, whatever the backend.
import { networkInterfaces } from "node:os";

/**
 * Out of reach even with network: private, shared and link-local ranges (the host's LAN, cloud
 * metadata at 169.254.169.254), "this network", multicast and reserved ranges, and every address
 * of the host's own interfaces (hostAddresses). Unreachable routes in the sandbox's own network
 * namespace, which its commands cannot change (no CAP_NET_ADMIN). Each backend adds them its own way.
 */
const UNREACHABLE_NETS = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4"];

/** The routes a network sandbox's PID 1 makes unreachable, read at each create. */
export function unreachableNets(): string[] {
  return [...UNREACHABLE_NETS, ...hostAddresses()];
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
