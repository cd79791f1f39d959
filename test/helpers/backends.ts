// The sandbox backends a suite runs against, each with what it needs from this machine: real local
// sandboxes (namespaces), and a container engine with the test image (scripts/docker-engine.sh
// starts dockerd and builds the image offline). Suites parametrised over these skip a backend
// only where its engine is missing, and say why.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SandboxBackend } from "../../src/sandbox/backend.js";
import { LOCAL_SANDBOXES, type Requirement } from "./requirements.js";

/** The image the docker backend's tests use (built offline by scripts/docker-engine.sh image). */
export const TEST_IMAGE = process.env.ACONTEXT_TEST_IMAGE || "acontext-test/base:bookworm";

async function dockerRequirement(): Promise<Requirement> {
  const { connectEngine } = await import("../../src/sandbox/docker/engine.js");
  const engine = await connectEngine();
  if ("unavailable" in engine) return { ok: false, reason: `${engine.unavailable} (scripts/docker-engine.sh start)` };
  try {
    await engine.docker.getImage(TEST_IMAGE).inspect();
    return { ok: true, reason: "" };
  } catch {
    return { ok: false, reason: `the test image ${TEST_IMAGE} is not on ${engine.description} (scripts/docker-engine.sh image)` };
  }
}

/** A container engine that answers, with the test image on it. */
export const DOCKER_ENGINE: Requirement = await dockerRequirement();

export interface BackendUnderTest {
  name: "local" | "docker";
  requirement: Requirement;
  /** A fresh backend, and what removes it with everything it made. */
  open(): Promise<{ backend: SandboxBackend; close(): Promise<void> }>;
}

export const BACKENDS_UNDER_TEST: BackendUnderTest[] = [
  {
    name: "local",
    requirement: LOCAL_SANDBOXES,
    async open() {
      const { LocalBackend } = await import("../../src/sandbox/local/local-backend.js");
      const stateDir = await mkdtemp(join(tmpdir(), "acontext-backend-local-"));
      const backend = new LocalBackend(stateDir, "suite");
      return {
        backend,
        close: async () => {
          await backend.killAll();
          await rm(stateDir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "docker",
    requirement: DOCKER_ENGINE,
    async open() {
      const { DockerBackend } = await import("../../src/sandbox/docker/docker-backend.js");
      const opened = await DockerBackend.open({ namespace: `test-${process.pid}-${Date.now().toString(36)}`, image: TEST_IMAGE });
      if ("unavailable" in opened) throw new Error(opened.unavailable);
      return { backend: opened, close: () => opened.killAll() };
    },
  },
];
