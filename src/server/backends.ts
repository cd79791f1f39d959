// The sandbox backend a server runs, chosen by name from its configuration (`--backend`); the
// routes and the service know only the SandboxBackend seam.
import { homedir } from "node:os";
import { join } from "node:path";
import { EXTENSIONS, type Extension } from "../protocol/extensions.js";
import type { SandboxBackend } from "../sandbox/backend.js";

/** `auto`: local namespaces where this machine has them, else a container engine that answers. */
export const BACKENDS = ["auto", "local", "docker"] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendOptions {
  /** Keeps this server's sandboxes apart from other servers' on the machine. */
  namespace: string;
  /** Sandboxes kept created ahead. */
  warm: number;
  /** The container image (docker backend; default: built from the bundled Dockerfile). */
  image?: string;
  /** Lines worth a server log (an image being pulled, say). */
  log: (line: string) => void;
}

/** The backend, or why this machine cannot have it (the server then answers sandbox routes with 503). */
export async function openBackend(name: BackendName, options: BackendOptions): Promise<{ backend: SandboxBackend } | { unavailable: string }> {
  if (name === "local") return openLocal(options);
  if (name === "docker") return openDocker(options);
  const local = await openLocal(options);
  if ("backend" in local) return local;
  const docker = await openDocker(options);
  if ("backend" in docker) return docker;
  return {
    unavailable: `${local.unavailable}; and ${docker.unavailable}. Either let this machine make namespaces (run the server as root, or allow user namespaces), or start a container engine (--backend docker)`,
  };
}

async function openLocal(options: BackendOptions): Promise<{ backend: SandboxBackend } | { unavailable: string }> {
  const { LocalBackend } = await import("../sandbox/local/local-backend.js");
  const support = LocalBackend.supported();
  if (!support.ok) return { unavailable: support.reason! };
  // Outside the data dir: sandbox set-up runs as the sandbox's unmapped uid, which must be able
  // to reach its root; a data dir under /root (0700) would not allow that.
  const stateDir = process.env.ACONTEXT_SANDBOX_DIR || (process.getuid?.() === 0 ? "/var/lib/acontext/sandboxes" : join(homedir(), ".acontext", "sandboxes"));
  return { backend: new LocalBackend(stateDir, options.namespace, { warm: options.warm }) };
}

async function openDocker(options: BackendOptions): Promise<{ backend: SandboxBackend } | { unavailable: string }> {
  const { DockerBackend } = await import("../sandbox/docker/docker-backend.js");
  const opened = await DockerBackend.open({ namespace: options.namespace, image: options.image, warm: options.warm, log: options.log });
  return "unavailable" in opened ? opened : { backend: opened };
}

/** Our API extensions a server offers over `backend` (terminals only where the backend has them). */
export function extensionsOf(backend: SandboxBackend | undefined): Extension[] {
  return EXTENSIONS.filter((extension) => extension !== "exec-tty" || backend?.capabilities.tty);
}
