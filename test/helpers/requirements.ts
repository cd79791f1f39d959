// What a test needs from this machine, and why it is skipped when the machine lacks it: the reason
// goes into the test's title, so every skip in the summary says why.
import { tmpdir } from "node:os";
import semver from "semver";
import { LocalBackend } from "../../src/sandbox/local/local-backend.js";
import { nodePackage } from "../../src/scaffold/node-runtime.js";

export interface Requirement {
  ok: boolean;
  reason: string;
}

const supported = LocalBackend.supported();
const probe = supported.ok ? new LocalBackend(tmpdir(), "probe") : undefined;

/** Real local sandboxes: Linux with user namespaces (as root, or where users may make them). */
export const LOCAL_SANDBOXES: Requirement = { ok: supported.ok, reason: supported.reason ?? "" };

/** Root: sandboxes with their own uid range (idmapped, writable /usr, setuid inside) and cgroups. */
export const ROOT: Requirement = {
  ok: process.getuid?.() === 0,
  reason: "runs as an ordinary user: its sandboxes map one uid, so they have no uid range and a read-only /usr",
};

/** cgroup v1 memory, pids and cpu controllers for sandboxes (root on a host that has them bound). */
export const CGROUPS: Requirement = {
  ok: probe?.limits.memory === "cgroup",
  reason:
    process.getuid?.() === 0
      ? "no cgroup v1 memory, pids and cpu controllers on this host (cgroup v2 is not used yet)"
      : "an ordinary user gets no cgroups here (rlimits instead)",
};

/** Outbound network for sandboxes (slirp4netns, and /dev/net/tun for a user). */
export const SANDBOX_NETWORK: Requirement = { ok: Boolean(probe && !probe.networkUnavailable), reason: probe?.networkUnavailable ?? supported.reason ?? "" };

const WRANGLER_NODE = ">=22.12.0";
const nodeTooOld = !semver.satisfies(process.version, WRANGLER_NODE);
const platform = `${process.platform}-${process.arch}`;

/** A Node.js that runs wrangler: this one, or one `sandbox start` fetches from the npm registry. */
export const NODE_FOR_WRANGLER: Requirement = {
  ok: !nodeTooOld || Boolean(nodePackage()),
  reason: `wrangler needs Node.js ${WRANGLER_NODE}, this is ${process.version}, and the npm registry has no Node.js binary for ${platform}`,
};

/** A Node.js `sandbox start` has to fetch for a project that needs >= 22.12 (this one is older). */
export const NODE_TO_FETCH: Requirement = {
  ok: nodeTooOld && Boolean(nodePackage()),
  reason: nodeTooOld
    ? `the npm registry has no Node.js binary for ${platform}`
    : `this Node.js (${process.version}) already satisfies ${WRANGLER_NODE}: nothing to fetch`,
};

/**
 * `name`, and whether to skip it: the first unmet requirement's reason is added to the title.
 * Use as `describe.skipIf(t.skip)(t.title, …)` with `const t = needs("…", LOCAL_SANDBOXES)`.
 */
export function needs(name: string, ...requirements: Requirement[]): { skip: boolean; title: string } {
  const unmet = requirements.find((requirement) => !requirement.ok);
  return unmet ? { skip: true, title: `${name} (skipped: ${unmet.reason})` } : { skip: false, title: name };
}
