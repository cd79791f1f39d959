// Outbound network for a local sandbox. What stays out of its reach is ../unreachable.ts, as routes
// its PID 1 adds (slirp4netns's own 10.0.2.0/24 is more specific); the host's loopback is off in
// slirp4netns itself (--disable-host-loopback).
import { type ChildProcess, spawn } from "node:child_process";
import type { Readable } from "node:stream";

/** slirp4netns's own network in the sandbox (tap0): no range of the host's may shadow it. */
export const SLIRP_NETWORK = "10.0.2.0/24";

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
