// Package-manager detection and command tables. Everything here is pure except the PATH lookup,
// so the detection order is table-tested without spawning anything.
import { findOnPath } from "../shared/processes.js";

export const PACKAGE_MANAGERS = ["npm", "pnpm", "yarn", "bun"] as const;
export type PackageManager = (typeof PACKAGE_MANAGERS)[number];

/** Lockfiles, in the order they win when a project has more than one; npm's comes last. */
export const LOCKFILES: ReadonlyArray<readonly [file: string, pm: PackageManager]> = [
  ["pnpm-lock.yaml", "pnpm"],
  ["bun.lock", "bun"],
  ["bun.lockb", "bun"],
  ["yarn.lock", "yarn"],
  ["package-lock.json", "npm"],
];

/** Which installed binary to prefer when nothing else says: the old Go CLI's order, npm last. */
const INSTALLED_PREFERENCE: readonly PackageManager[] = ["pnpm", "yarn", "bun", "npm"];

interface Commands {
  install: string[];
  /** argv after the binary to run a package.json script with extra arguments. */
  run: (script: string, args: string[]) => string[];
  /** How to get the binary. */
  installHint: string;
}

const COMMANDS: Record<PackageManager, Commands> = {
  // Only npm needs `--` before arguments meant for the script.
  npm: {
    install: ["install"],
    run: (script, args) => ["run", script, ...(args.length ? ["--", ...args] : [])],
    installHint: "npm ships with Node.js: https://nodejs.org/en/download",
  },
  pnpm: {
    install: ["install"],
    run: (script, args) => ["run", script, ...args],
    installHint: "npm install -g pnpm (or: corepack enable pnpm)",
  },
  yarn: {
    install: ["install"],
    run: (script, args) => ["run", script, ...args],
    installHint: "npm install -g yarn (or: corepack enable yarn)",
  },
  bun: {
    install: ["install"],
    run: (script, args) => ["run", script, ...args],
    installHint: "npm install -g bun (or see https://bun.sh)",
  },
};

export function isPackageManager(value: unknown): value is PackageManager {
  return typeof value === "string" && (PACKAGE_MANAGERS as readonly string[]).includes(value);
}

/** `"pnpm@9.12.0+sha512…"` → `"pnpm"`; anything we do not run → undefined. */
export function parsePackageManagerField(value: unknown): PackageManager | undefined {
  if (typeof value !== "string") return undefined;
  const name = value.trim().split("@")[0];
  return isPackageManager(name) ? name : undefined;
}

/** `npm_config_user_agent` (`"pnpm/9.1.0 npm/? node/v20.12.0 linux x64"`) → `"pnpm"`. */
export function parseUserAgent(value: string | undefined): PackageManager | undefined {
  const name = value?.trim().split("/")[0];
  return isPackageManager(name) ? name : undefined;
}

export interface DetectionInput {
  /** `--pm`. */
  flag?: PackageManager;
  /** The project's package.json `packageManager` field, as written. */
  packageManagerField?: unknown;
  /** Names of the files in the project folder (only lockfiles matter). */
  files: readonly string[];
  /** `npm_config_user_agent` of the process that launched us. */
  userAgent?: string;
  /** Package managers found on PATH. */
  installed: readonly PackageManager[];
}

export interface Detection {
  pm: PackageManager;
  /** What decided it, for messages: `--pm`, `packageManager field`, a lockfile name, … */
  source: string;
}

/**
 * Picks the package manager: `--pm`, then the project's `packageManager` field, then its lockfile,
 * then the package manager that launched us, then the first installed one (pnpm, yarn, bun, npm).
 */
export function resolvePackageManager(input: DetectionInput): Detection {
  if (input.flag) return { pm: input.flag, source: "--pm" };
  const fromField = parsePackageManagerField(input.packageManagerField);
  if (fromField) return { pm: fromField, source: "packageManager field" };
  for (const [file, pm] of LOCKFILES) {
    if (input.files.includes(file)) return { pm, source: file };
  }
  const fromAgent = parseUserAgent(input.userAgent);
  if (fromAgent) return { pm: fromAgent, source: "npm_config_user_agent" };
  const installed = INSTALLED_PREFERENCE.find((pm) => input.installed.includes(pm));
  if (installed) return { pm: installed, source: "installed" };
  return { pm: "npm", source: "default" };
}

/** The package managers to offer in a prompt: installed ones only, the detected one first. */
export function packageManagerChoices(detected: PackageManager, installed: readonly PackageManager[]): PackageManager[] {
  const rest = INSTALLED_PREFERENCE.filter((pm) => pm !== detected && installed.includes(pm));
  return installed.includes(detected) ? [detected, ...rest] : rest;
}

export function installCommand(pm: PackageManager): { command: string; args: string[] } {
  return { command: pm, args: COMMANDS[pm].install };
}

export function runScriptCommand(pm: PackageManager, script: string, args: string[] = []): { command: string; args: string[] } {
  return { command: pm, args: COMMANDS[pm].run(script, args) };
}

export function installHint(pm: PackageManager): string {
  return COMMANDS[pm].installHint;
}

export function installedPackageManagers(env: NodeJS.ProcessEnv = process.env): PackageManager[] {
  return PACKAGE_MANAGERS.filter((pm) => findOnPath(pm, env) !== undefined);
}
