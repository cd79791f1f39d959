// What a sandbox project is, and finding the ones under ./sandbox/.
import { type Dirent, existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

export interface ProjectKind {
  name: "cloudflare";
  /** Any one of these files beside package.json marks a project of this kind. */
  markers: readonly string[];
  /** Arguments for the `dev` script: the port, and containers on or off. */
  devArgs: (options: { port: number; containers: boolean }) => string[];
  /** Whether the dev server needs a Docker engine (unless containers are off). */
  needsDocker: boolean;
}

export const PROJECT_KINDS: readonly ProjectKind[] = [
  {
    name: "cloudflare",
    markers: ["wrangler.jsonc", "wrangler.json", "wrangler.toml"],
    // --enable-containers is hidden in `wrangler dev --help` but present (wrangler 4.86 to 4.164).
    devArgs: ({ port, containers }) => ["--port", String(port), ...(containers ? [] : ["--enable-containers=false"])],
    needsDocker: true,
  },
];

export interface SandboxProject {
  /** Folder name under the sandbox root. */
  name: string;
  /** Absolute path. */
  dir: string;
  kind: ProjectKind;
}

/** The kind of the project in `dir`, or undefined if it is not a sandbox project. */
export function detectKind(files: readonly string[]): ProjectKind | undefined {
  if (!files.includes("package.json")) return undefined;
  return PROJECT_KINDS.find((kind) => kind.markers.some((marker) => files.includes(marker)));
}

/** Sandbox projects directly under `root` (any folder name), sorted by name. */
export async function scanProjects(root: string): Promise<SandboxProject[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const projects: SandboxProject[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const dir = join(root, entry.name);
    const kind = detectKind(await readdir(dir));
    if (kind) projects.push({ name: entry.name, dir, kind });
  }
  return projects.sort((a, b) => a.name.localeCompare(b.name));
}

export interface PackageJson {
  name?: string;
  packageManager?: unknown;
  engines?: { node?: string };
  scripts?: Record<string, string>;
  [key: string]: unknown;
}

export async function readPackageJson(dir: string): Promise<PackageJson> {
  const text = await readFile(join(dir, "package.json"), "utf8");
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`${join(dir, "package.json")} is not a JSON object`);
  }
  return value as PackageJson;
}

export function hasNodeModules(dir: string): boolean {
  return existsSync(join(dir, "node_modules"));
}
