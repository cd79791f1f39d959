// The sandbox backends a suite runs against, each with what it needs from this machine: real local
// sandboxes (namespaces), and a container engine with the test image (scripts/docker-engine.sh
// starts dockerd and builds the image offline). Suites parametrised over these skip a backend
// only where its engine is missing, and say why.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SandboxBackend } from "../../src/sandbox/backend.js";
import { LOCAL_SANDBOXES, type Requirement, SANDBOX_NETWORK } from "./requirements.js";

/** The image the docker backend's tests use (built offline by scripts/docker-engine.sh image). */
export const TEST_IMAGE = process.env.ACONTEXT_TEST_IMAGE || "acontext-test/base:bookworm";

async function dockerRequirements(): Promise<{ engine: Requirement; network: Requirement }> {
  const { connectEngine } = await import("../../src/sandbox/docker/engine.js");
  const engine = await connectEngine();
  if ("unavailable" in engine) {
    const missing = { ok: false, reason: `${engine.unavailable} (scripts/docker-engine.sh start)` };
    return { engine: missing, network: missing };
  }
  try {
    await engine.docker.getImage(TEST_IMAGE).inspect();
  } catch {
    const missing = { ok: false, reason: `the test image ${TEST_IMAGE} is not on ${engine.description} (scripts/docker-engine.sh image)` };
    return { engine: missing, network: missing };
  }
  return {
    engine: { ok: true, reason: "" },
    network: engine.podman
      ? { ok: false, reason: "the docker backend offers no network on Podman (its DNS answers on the host's side of the bridge)" }
      : { ok: true, reason: "" },
  };
}

const docker = await dockerRequirements();

/** A container engine that answers, with the test image on it. */
export const DOCKER_ENGINE: Requirement = docker.engine;

/** That engine, where the docker backend offers sandboxes network (not on Podman yet). */
export const DOCKER_NETWORK: Requirement = docker.network;

export interface BackendUnderTest {
  name: "local" | "docker";
  requirement: Requirement;
  /** What sandboxes with network need on this backend. */
  network: Requirement;
  /** A fresh backend, and what removes it with everything it made. */
  open(): Promise<{ backend: SandboxBackend; close(): Promise<void> }>;
}

export const BACKENDS_UNDER_TEST: BackendUnderTest[] = [
  {
    name: "local",
    requirement: LOCAL_SANDBOXES,
    network: SANDBOX_NETWORK,
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
    network: DOCKER_NETWORK,
    async open() {
      const { DockerBackend } = await import("../../src/sandbox/docker/docker-backend.js");
      const opened = await DockerBackend.open({ namespace: `test-${process.pid}-${Date.now().toString(36)}`, image: TEST_IMAGE });
      if ("unavailable" in opened) throw new Error(opened.unavailable);
      return { backend: opened, close: () => opened.killAll() };
    },
  },
];
