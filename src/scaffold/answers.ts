// Answers given at `sandbox start` prompts, remembered per project (by its absolute path) so the
// same question is not asked at every start: ~/.acontext/sandbox-start.json, this machine's only
// (whether Docker runs is a fact about the machine, not the project, so it stays out of the project).
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export interface ProjectAnswers {
  /** Without Docker, start the Worker without containers instead of asking. */
  withoutContainers?: boolean;
}

export function answersFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.HOME || homedir(), ".acontext", "sandbox-start.json");
}

async function readAll(file: string): Promise<Record<string, ProjectAnswers>> {
  try {
    const value = JSON.parse(await readFile(file, "utf8")) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, ProjectAnswers>) : {};
  } catch {
    return {}; // none yet, or unreadable: ask again
  }
}

export async function projectAnswers(projectDir: string, env?: NodeJS.ProcessEnv): Promise<ProjectAnswers> {
  return (await readAll(answersFile(env)))[projectDir] ?? {};
}

export async function rememberAnswers(projectDir: string, answers: ProjectAnswers, env?: NodeJS.ProcessEnv): Promise<string> {
  const file = answersFile(env);
  const all = await readAll(file);
  all[projectDir] = { ...all[projectDir], ...answers };
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}`;
  await writeFile(temp, `${JSON.stringify(all, null, 2)}\n`);
  await rename(temp, file);
  return file;
}
