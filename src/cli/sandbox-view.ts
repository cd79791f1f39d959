// One shape for a sandbox wherever the CLI prints one (`sandbox create|ls|get --json`), built from
// what any Acontext API returns: the sandbox logs (upstream's shape, with our additive fields where
// the API has them) or a create answer.
import type { SandboxInfo, SandboxLog } from "../client/client.js";

export interface SandboxView {
  id: string;
  status: "running" | "killed";
  created_at: string;
  /** When it is killed if left idle (every exec pushes it out); null once killed. */
  expires_at: string | null;
  /** When it was killed; null while running. */
  killed_at: string | null;
  /** How long it may sit idle; null where the API does not say. */
  keepalive_seconds: number | null;
  /** The commands run in it, in order, with their exit codes. */
  history: Array<{ command: string; exit_code: number }>;
  /** Files taken out of it to a disk (sandbox paths). */
  generated_files: string[];
}

export function fromLog(log: SandboxLog): SandboxView {
  const running = Boolean(log.backend_sandbox_id);
  // Upstream's logs have no expiry: created + the seconds it will have lived is the same instant.
  const derived = new Date(Date.parse(log.created_at) + log.will_total_alive_seconds * 1000).toISOString();
  return {
    id: log.id,
    status: running ? "running" : "killed",
    created_at: log.created_at,
    expires_at: running ? (log.expires_at ?? derived) : null,
    killed_at: running ? null : (log.killed_at ?? log.updated_at),
    keepalive_seconds: log.keepalive_seconds ?? null,
    history: log.history_commands.map(({ command, exit_code }) => ({ command, exit_code })),
    generated_files: log.generated_files.map((file) => file.sandbox_path),
  };
}

export function fromCreated(info: SandboxInfo, keepaliveSeconds: number | undefined): SandboxView {
  return {
    id: info.sandbox_id,
    status: info.sandbox_status === "running" ? "running" : "killed",
    created_at: info.sandbox_created_at,
    expires_at: info.sandbox_expires_at,
    killed_at: null,
    keepalive_seconds: keepaliveSeconds ?? Math.round((Date.parse(info.sandbox_expires_at) - Date.parse(info.sandbox_created_at)) / 1000),
    history: [],
    generated_files: [],
  };
}
