// What this machine lets local sandboxes have: namespaces at all, and outbound network.
import { spawnSync } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { findOnPath } from "../../shared/processes.js";

/**
 * Whether this machine can run local sandboxes: Linux with user namespaces; as root with
 * everything, as an ordinary user where the kernel lets users make namespaces.
 */
export function localSandboxSupport(): { ok: boolean; reason?: string } {
  if (process.platform !== "linux") return { ok: false, reason: "local sandboxes need Linux namespaces" };
  const max = Number(readIfExists("/proc/sys/user/max_user_namespaces") ?? "0");
  if (!max) return { ok: false, reason: "user namespaces are disabled (sysctl user.max_user_namespaces=0)" };
  if (process.getuid?.() === 0) return { ok: true };
  const probe = spawnSync("unshare", ["--user", "--map-root-user", "--mount", "--pid", "--net", "--fork", "true"], { stdio: "ignore" });
  if (probe.status !== 0) {
    return {
      ok: false,
      reason:
        "this kernel does not let ordinary users make namespaces (sysctl kernel.unprivileged_userns_clone, or " +
        "kernel.apparmor_restrict_unprivileged_userns on Ubuntu); run the server as root, or allow them",
    };
  }
  return { ok: true };
}

/** Why `network: true` cannot be had here, if it cannot. */
export function networkUnavailable(privileged: boolean): string | undefined {
  if (!findOnPath("slirp4netns")) return "network for local sandboxes needs slirp4netns on the server's machine (apt-get install slirp4netns)";
  if (!privileged && !usable("/dev/net/tun")) {
    return "network for an ordinary user's sandboxes needs /dev/net/tun to be usable by that user (most systems make it 0666)";
  }
  return undefined;
}

function usable(device: string): boolean {
  try {
    accessSync(device, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}
