// Prerequisites of a sandbox project, checked before installing or starting it.
import { ExpectedError } from "../shared/errors.js";

/**
 * Whether the project declares an `engines.node` that `nodeVersion` (undefined: no node on PATH)
 * does not satisfy; a range semver cannot read is taken as satisfied.
 */
export async function nodeTooOld(required: string | undefined, nodeVersion: string | undefined): Promise<boolean> {
  if (!required) return false;
  if (!nodeVersion) return true;
  const { default: semver } = await import("semver");
  if (!semver.validRange(required)) return false;
  return !semver.satisfies(nodeVersion, required, { includePrerelease: true });
}

/** The version of the `node` that the package manager will run (`node --version` on PATH). */
export async function nodeVersionOnPath(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const { execa } = await import("execa");
  const result = await execa("node", ["--version"], { env, reject: false, timeout: 30_000 });
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

/** Whether a Docker engine answers (`docker info` exits 0). */
export async function dockerRunning(env: NodeJS.ProcessEnv): Promise<boolean> {
  const { execa } = await import("execa");
  const result = await execa("docker", ["info"], { env, reject: false, timeout: 30_000 });
  return result.exitCode === 0;
}

/** The message for a Cloudflare project when Docker is not there, with the three ways forward. */
export function dockerMissingError(port: number, retry: string): ExpectedError {
  return new ExpectedError(
    [
      "Docker is not running (or not installed). The Cloudflare sandbox builds and runs its container",
      "image with Docker during `wrangler dev`, so wrangler would refuse to start. Either:",
      "  • start Docker (Docker Desktop, or `sudo systemctl start docker`) and run this again,",
      "  • use Podman: set WRANGLER_DOCKER_BIN to its path and DOCKER_HOST to its socket, or",
      `  • pass --no-containers to start the Worker on http://localhost:${port} without containers;`,
      '    every sandbox call then fails with "Containers have not been enabled for this Durable Object class".',
    ].join("\n"),
    { hint: retry },
  );
}
