// The saved login: ~/.acontext/config.json (0600), {base_url?, api_key}. Synchronous node:fs on
// purpose: every API command reads it at start-up, and node:fs/promises would cost ~1.5 ms to load.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ExpectedError } from "../shared/errors.js";

export interface Profile {
  base_url?: string;
  api_key?: string;
}

export function profilePath(): string {
  return join(homedir(), ".acontext", "config.json");
}

export async function readProfile(): Promise<Profile | undefined> {
  let text: string;
  try {
    text = readFileSync(profilePath(), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    const value = JSON.parse(text) as Profile;
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    throw new ExpectedError(`${profilePath()} (the saved login) is not valid JSON`, { hint: "fix it, or forget it: acontext logout" });
  }
}

export async function writeProfile(profile: Profile): Promise<string> {
  const file = profilePath();
  mkdirSync(join(file, ".."), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(profile, null, 2)}\n`, { mode: 0o600 });
  return file;
}

export async function deleteProfile(): Promise<boolean> {
  try {
    rmSync(profilePath());
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}
