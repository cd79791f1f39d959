// Bundled and remote templates, and copying one into a new project folder.
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ExpectedError, UsageError } from "../shared/errors.js";
import { detectKind } from "./projects.js";

export const TEMPLATES_DIR = fileURLToPath(new URL("../../templates/", import.meta.url));

/** npm strips dotfiles like .gitignore from packages, so templates ship them under these names. */
export const DOTFILE_RENAMES: Readonly<Record<string, string>> = {
  _gitignore: ".gitignore",
  "_dev.vars.example": ".dev.vars.example",
};

/** Never copied from a template source. */
const SKIPPED = new Set(["node_modules", ".git", ".wrangler"]);

/** giget providers we accept in `--template` (the prefix before the first colon). */
const REMOTE_PROVIDERS = ["github", "gh", "gitlab", "bitbucket", "sourcehut", "git", "http", "https"];

export interface BundledTemplate {
  name: string;
  description: string;
  dir: string;
}

export async function listBundledTemplates(root = TEMPLATES_DIR): Promise<BundledTemplate[]> {
  const entries = await readdir(root, { withFileTypes: true });
  const templates: BundledTemplate[] = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = join(root, entry.name);
    const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as { description?: string };
    templates.push({ name: entry.name, description: pkg.description ?? "", dir });
  }
  return templates;
}

/** `github:owner/repo/dir#ref` and friends: anything with a known provider prefix. */
export function isRemoteTemplate(spec: string): boolean {
  const colon = spec.indexOf(":");
  return colon > 0 && REMOTE_PROVIDERS.includes(spec.slice(0, colon));
}

/** A folder name for a new project: letters, digits, `.`, `_`, `-`; not starting with a dot. */
export function validateProjectName(name: string): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    return `"${name}" is not a valid project name: use letters, digits, ".", "_" and "-", starting with a letter or digit`;
  }
  return undefined;
}

/** A valid npm package name (and Worker name) derived from a folder name. */
export function toPackageName(name: string): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return cleaned.slice(0, 63) || "sandbox";
}

/** The default folder name for a template: the bundled name, or the last path part of a remote spec. */
export function defaultProjectName(spec: string): string {
  if (!isRemoteTemplate(spec)) return spec;
  const [path = "", ref = ""] = spec.slice(spec.indexOf(":") + 1).split("#");
  // git: sources name a subfolder after the ref: git:./repo#main:sub/dir
  const subdir = ref.includes(":") ? ref.slice(ref.indexOf(":") + 1) : "";
  const last = (subdir || path).split(/[/:]/).filter(Boolean).pop() ?? "sandbox";
  return toPackageName(last.replace(/\.git$/, ""));
}

/**
 * Makes sure `target` can receive a new project: missing or empty is fine; non-empty needs
 * `force`, and then everything but `.git` is removed first.
 */
export async function prepareTarget(target: string, force: boolean, display: string): Promise<void> {
  let entries: string[];
  try {
    const stat = await lstat(target);
    if (!stat.isDirectory()) {
      throw new ExpectedError(`${display} exists and is not a folder`, { hint: "choose another name with --name" });
    }
    entries = await readdir(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (entries.length === 0) return;
  if (!force) {
    throw new ExpectedError(`${display} already exists and is not empty`, {
      hint: "start it by name, choose another folder with --name, or overwrite it with --force",
    });
  }
  await Promise.all(entries.filter((e) => e !== ".git").map((e) => rm(join(target, e), { recursive: true, force: true })));
}

/** Copies a template folder into `target`, renaming shipped dotfiles and naming the package. */
export async function copyTemplate(source: string, target: string, projectName: string): Promise<void> {
  await copyTree(source, target);
  await renamePackage(target, toPackageName(projectName));
}

async function copyTree(source: string, target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  for (const entry of await readdir(source, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const from = join(source, entry.name);
    const to = join(target, DOTFILE_RENAMES[entry.name] ?? entry.name);
    if (entry.isDirectory()) await copyTree(from, to);
    else if (entry.isSymbolicLink()) await symlink(await readlink(from), to);
    else if (entry.isFile()) await copyFile(from, to);
  }
}

/** Sets package.json `name`, and the wrangler config's `name` where it repeated the old one. */
async function renamePackage(dir: string, name: string): Promise<void> {
  const pkgFile = join(dir, "package.json");
  const pkg = JSON.parse(await readFile(pkgFile, "utf8")) as { name?: string };
  const oldName = pkg.name;
  pkg.name = name;
  await writeFile(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
  if (!oldName) return;
  for (const config of ["wrangler.jsonc", "wrangler.json", "wrangler.toml"]) {
    const file = join(dir, config);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      continue;
    }
    const pattern = new RegExp(`^(\\s*"?name"?\\s*[:=]\\s*")${escapeRegExp(oldName)}(")`, "m");
    if (pattern.test(text)) await writeFile(file, text.replace(pattern, `$1${name}$2`));
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Downloads a remote template (giget) into a fresh temp folder and checks it is a sandbox project.
 * Returns the folder; the caller removes it with `cleanup`.
 */
export async function fetchRemoteTemplate(spec: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const tmp = await mkdtemp(join(tmpdir(), "acontext-template-"));
  const cleanup = () => rm(tmp, { recursive: true, force: true });
  const dir = join(tmp, "template");
  try {
    const { downloadTemplate } = await import("giget");
    // registry: false keeps bare names away from giget's registry on the internet.
    await downloadTemplate(spec, { dir, registry: false, force: true });
  } catch (err) {
    await cleanup();
    throw new ExpectedError(`could not fetch template ${spec}: ${causeOf(err)}`, {
      hint: "check the template address and your network; the bundled templates work offline (--template cloudflare)",
      cause: err,
    });
  }
  const files = await readdir(dir).catch(() => [] as string[]);
  if (!detectKind(files)) {
    await cleanup();
    throw new UsageError(
      `template ${spec} is not a sandbox project: it needs a package.json and a wrangler.jsonc, wrangler.json or wrangler.toml`,
      "point --template at the folder that holds the project, e.g. github:owner/repo/path/to/project#main",
    );
  }
  return { dir, cleanup };
}

/** giget's message names the URL; the root cause (ENOTFOUND, ECONNREFUSED, git's exit) is deeper. */
function causeOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  let root: unknown = err;
  while (root instanceof Error && root.cause !== undefined) root = root.cause;
  const reason = root instanceof Error ? root.message : String(root);
  return message.includes(reason) ? message : `${message} (${reason})`;
}
