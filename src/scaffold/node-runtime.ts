// A Node.js for a project whose `engines.node` the `node` on PATH does not satisfy (wrangler needs
// Node >= 22.12; many machines have 20): the official binary as the npm registry ships it (the
// node-<os>-<arch> packages), fetched once with the user's own npm (its registry, proxy and CA
// settings) into a cache, and put first on PATH for the project's processes only.
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/** The major preferred among the versions a range allows: the current LTS line wrangler is tested on. */
const PREFERRED_MAJOR = 22;

export interface NodeRuntime {
  version: string;
  /** A folder holding `node`, to put first on PATH. */
  binDir: string;
}

/** Fetching failed: why, in a few words (an npm error code, or its last line). */
export class NodeFetchError extends Error {
  constructor(
    readonly reason: string,
    /** True when the registry could not be reached (no network, DNS, proxy). */
    readonly offline: boolean,
  ) {
    super(reason);
    this.name = "NodeFetchError";
  }
}

/** The npm package that holds Node's binary for this platform, if there is one. */
export function nodePackage(platform: string = process.platform, arch: string = process.arch): string | undefined {
  const os = platform === "linux" || platform === "darwin" ? platform : undefined;
  const cpu = arch === "x64" || arch === "arm64" ? arch : undefined;
  return os && cpu ? `node-${os}-${cpu}` : undefined;
}

/** Where fetched Node.js versions are kept: ~/.cache/acontext/node (XDG_CACHE_HOME). */
export function nodeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache"), "acontext", "node");
}

function binDirOf(cache: string, pkg: string, version: string): string {
  return join(cache, `${pkg}-${version}`, "node_modules", pkg, "bin");
}

/** The newest Node.js in the cache that satisfies `range`, without asking the network. */
export async function cachedNode(range: string, env: NodeJS.ProcessEnv = process.env): Promise<NodeRuntime | undefined> {
  const pkg = nodePackage();
  if (!pkg) return undefined;
  const cache = nodeCacheDir(env);
  const { default: semver } = await import("semver");
  const versions = (await readdir(cache).catch(() => [] as string[])).filter((name) => name.startsWith(`${pkg}-`)).map((name) => name.slice(pkg.length + 1));
  const usable = [];
  for (const version of versions) {
    if (!semver.valid(version) || !semver.satisfies(version, range)) continue;
    if (await stat(join(binDirOf(cache, pkg, version), "node")).catch(() => undefined)) usable.push(version);
  }
  const best = semver.rsort(usable)[0];
  return best ? { version: best, binDir: binDirOf(cache, pkg, best) } : undefined;
}

/** Of the versions `range` allows, the newest of the preferred major, else the newest. */
export async function chooseVersion(available: string[], range: string): Promise<string | undefined> {
  const { default: semver } = await import("semver");
  const allowed = available.filter((version) => semver.valid(version) && semver.satisfies(version, range));
  const preferred = allowed.filter((version) => semver.major(version) === PREFERRED_MAJOR);
  return semver.rsort(preferred.length ? preferred : allowed)[0];
}

/**
 * Fetches a Node.js that satisfies `range` into the cache (once: later calls find it there) with
 * `npm`, reporting the bytes unpacked so far; returns it. Cancelled by `signal`. Nothing half
 * fetched is left: it is unpacked in a temp folder renamed into place when whole.
 */
export async function fetchNode(
  range: string,
  options: { env: NodeJS.ProcessEnv; signal?: AbortSignal; onStart?: (version: string, pkg: string) => void; onProgress?: (bytes: number) => void },
): Promise<NodeRuntime> {
  const pkg = nodePackage();
  if (!pkg) throw new NodeFetchError(`the npm registry has no Node.js binary for ${process.platform}-${process.arch}`, false);
  const { execa } = await import("execa");
  // Offline, npm's default retries take over a minute to give up; fewer unless the user chose.
  const retries = Object.fromEntries(
    Object.entries({ npm_config_fetch_retries: "1", npm_config_fetch_retry_mintimeout: "1000", npm_config_fetch_retry_maxtimeout: "5000" }).filter(
      ([name]) => options.env[name] === undefined,
    ),
  );
  const npm = (args: string[]) =>
    execa("npm", [...args, "--prefer-offline", "--no-audit", "--no-fund", "--no-update-notifier"], {
      env: { ...options.env, ...retries },
      reject: false,
      cancelSignal: options.signal,
      all: true,
    });

  const listed = await npm(["view", `${pkg}@${range}`, "version", "--json"]);
  if (options.signal?.aborted) throw options.signal.reason;
  if (listed.exitCode !== 0) {
    const failure = npmFailure(listed.all ?? "", listed.exitCode);
    throw failure.reason.startsWith("npm: E404") ? new NodeFetchError(`no release of Node.js satisfies ${range} (${pkg})`, false) : failure;
  }
  const parsed = JSON.parse(listed.stdout || "[]") as string | string[];
  const version = await chooseVersion(Array.isArray(parsed) ? parsed : [parsed], range);
  if (!version) throw new NodeFetchError(`no version of ${pkg} satisfies ${range}`, false);

  const cache = nodeCacheDir(options.env);
  const final = join(cache, `${pkg}-${version}`);
  const temp = join(cache, `.${pkg}-${version}.${process.pid}`);
  await mkdir(cache, { recursive: true });
  await rm(temp, { recursive: true, force: true });
  options.onStart?.(version, pkg);
  const progress = options.onProgress ? setInterval(() => folderSize(temp).then(options.onProgress, () => {}), 500) : undefined;
  try {
    const installed = await npm(["install", "--no-save", "--no-package-lock", "--prefix", temp, `${pkg}@${version}`]);
    if (options.signal?.aborted) throw options.signal.reason;
    if (installed.exitCode !== 0) throw npmFailure(installed.all ?? "", installed.exitCode);
    await rm(final, { recursive: true, force: true });
    await rename(temp, final);
  } finally {
    clearInterval(progress);
    await rm(temp, { recursive: true, force: true });
  }
  return { version, binDir: binDirOf(cache, pkg, version) };
}

/** npm's failure as a short reason; network codes mean the registry could not be reached. */
function npmFailure(output: string, exitCode: number | undefined): NodeFetchError {
  if (exitCode === undefined) return new NodeFetchError("npm is not installed", false);
  const code = /npm (?:error|ERR!) code (\S+)/.exec(output)?.[1];
  const offline = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|ENOTCACHED/.test(output);
  // The first line that says what happened (not the code, errno or where the log is).
  const said = output
    .split("\n")
    .filter((line) => /^npm (error|ERR!) /.test(line))
    .map((line) =>
      line
        .replace(/^npm (error|ERR!) (\d{3} )?/, "")
        .replace(/^\w*Error: /, "")
        .trim(),
    )
    .find((line) => line && !/^(code|syscall|errno) /.test(line) && !line.startsWith("A complete log"));
  if (code) return new NodeFetchError(`npm: ${code}${said ? ` (${said})` : ""}`, offline);
  return new NodeFetchError(`npm exited with ${exitCode}${said ? `: ${said}` : ""}`, offline);
}

async function folderSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
