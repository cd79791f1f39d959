// Outbound network for a local sandbox, and what stays out of its reach.
import { type ChildProcess, spawn } from "node:child_process";
import { networkInterfaces } from "node:os";
import type { Readable } from "node:stream";

/**
 * Out of reach even with network: private, shared and link-local ranges (the host's LAN, cloud
 * metadata at 169.254.169.254), "this network", multicast and reserved ranges, and every address
 * of the host's own interfaces (hostAddresses). Unreachable routes in the sandbox's own network
 * namespace, which its commands cannot change (no CAP_NET_ADMIN); slirp4netns's 10.0.2.0/24 is
 * more specific. The host's loopback is off in slirp4netns itself (--disable-host-loopback).
 */
const UNREACHABLE_NETS = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4"];

/** The routes a network sandbox's PID 1 makes unreachable, read at each create. */
export function unreachableNets(): string[] {
  return [...UNREACHABLE_NETS, ...hostAddresses()];
}

/**
 * The host's own IPv4 addresses, as /32s: slirp4netns makes a sandbox's connections with host
 * sockets, so without these routes a sandbox could reach host services bound to 0.0.0.0 through
 * them (sandboxes get no IPv6). Read at each create, so a later change of address is covered for
 * sandboxes made after it.
 */
export function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((address) => address?.family === "IPv4" && !address.internal)
    .map((address) => `${address!.address}/32`);
}

/**
 * Outbound network through slirp4netns: a user-mode TCP/IP stack on the host that gives the
 * sandbox's own network namespace (of PID 1, `initPid`) a tap0 (10.0.2.100, gateway 10.0.2.2, DNS
 * 10.0.2.3) and makes its connections with ordinary host sockets. The host's loopback (this
 * server included) stays out of reach. It runs in its own mount namespace under a seccomp filter,
 * and dies with the server (pdeathsig) or the sandbox. Its API socket (port forwards) is
 * slirp.sock in `dir`. Resolves with its process once the network is up.
 */
export async function startNetwork(initPid: number, dir: string, ownUserNamespace: boolean): Promise<ChildProcess> {
  const args = ["--pdeathsig", "KILL", "slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox", "--enable-seccomp"];
  if (ownUserNamespace) args.push(`--userns-path=/proc/${initPid}/ns/user`);
  // The API socket named relative to the folder: full paths can exceed sockaddr_un's 108 bytes.
  args.push("--ready-fd=3", "--api-socket=slirp.sock", String(initPid), "tap0");
  const slirp = spawn("setpriv", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe", "pipe"], detached: true });
  const stderr: Buffer[] = [];
  slirp.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk));
  try {
    await new Promise<void>((resolve, reject) => {
      (slirp.stdio[3] as Readable).once("data", () => resolve());
      slirp.once("exit", (code) => reject(new Error(`the sandbox's network did not start (exit ${code}): ${Buffer.concat(stderr).toString().trim()}`)));
    });
  } catch (err) {
    slirp.kill("SIGKILL");
    throw err;
  }
  // Running: its later messages are dropped, not collected.
  (slirp.stdio[3] as Readable).destroy();
  slirp.stderr!.removeAllListeners("data").resume();
  slirp.unref();
  return slirp;
}
