// The container engine the docker backend talks to: Docker Engine, Docker Desktop, Podman's
// Docker-compatible socket, OrbStack, Colima. Found the way the docker CLI finds it (DOCKER_HOST,
// else the default socket; dockerode does this), asked who it is, and given the sandbox image.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import dockerfile from "./sandbox.Dockerfile";

/** The default image, built from sandbox.Dockerfile on first use; its tag follows the file. */
export const DEFAULT_IMAGE = `acontext-sandbox:${digest(dockerfile)}`;

export interface Engine {
  docker: Docker;
  /** e.g. "Docker Engine 28.2.2" or "Podman Engine 4.3.1". */
  description: string;
  podman: boolean;
}

/** The engine, or why there is none (never throws). */
export async function connectEngine(): Promise<Engine | { unavailable: string }> {
  const { default: DockerClient } = await import("dockerode");
  const docker = new DockerClient();
  const where = process.env.DOCKER_HOST || "the default socket (/var/run/docker.sock)";
  try {
    const version = await docker.version();
    const component = version.Components?.find((part) => /engine/i.test(part.Name));
    // Docker says "Engine", Podman "Podman Engine".
    const name = !component || component.Name === "Engine" ? "Docker Engine" : component.Name;
    return { docker, description: `${name} ${version.Version} at ${where}`, podman: /podman/i.test(name) };
  } catch (err) {
    return {
      unavailable: `no container engine answers at ${where} (${(err as Error).message}): start Docker (Docker Desktop, Docker Engine, Podman's docker-compatible socket, OrbStack, Colima) or set DOCKER_HOST`,
    };
  }
}

/**
 * Makes sure `image` is there: the default one is built from sandbox.Dockerfile (its base comes
 * from Docker Hub), another one is pulled. `log` gets the progress, a line at a time.
 */
export async function ensureImage(engine: Engine, image: string, log: (line: string) => void): Promise<void> {
  try {
    await engine.docker.getImage(image).inspect();
    return;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
  const steps = image === DEFAULT_IMAGE ? "building" : "pulling";
  log(`${steps} the sandbox image ${image}`);
  // The default image's build context: its Dockerfile alone.
  const context = image === DEFAULT_IMAGE ? await mkdtemp(join(tmpdir(), "acontext-image-")) : undefined;
  try {
    let stream: NodeJS.ReadableStream;
    if (context) {
      await writeFile(join(context, "Dockerfile"), dockerfile);
      stream = await engine.docker.buildImage({ context, src: ["Dockerfile"] }, { t: image, rm: true, forcerm: true });
    } else {
      stream = await engine.docker.pull(image);
    }
    await new Promise<void>((resolve, reject) => {
      engine.docker.modem.followProgress(
        stream,
        (err: Error | null, output: Array<{ error?: string }>) => {
          const failed = err?.message ?? output.find((event) => event.error)?.error;
          if (failed) reject(new Error(failed));
          else resolve();
        },
        (event: { status?: string; stream?: string; progress?: string }) => {
          const line = (event.stream ?? [event.status, event.progress].filter(Boolean).join(" ")).trim();
          if (line) log(line);
        },
      );
    });
  } catch (err) {
    throw new Error(
      `the sandbox image ${image} is not on the engine and ${steps} it failed (${(err as Error).message.trim()}): ` +
        "on a machine without registry access, load an image (docker load -i FILE) and start the server with --image NAME",
    );
  } finally {
    if (context) await rm(context, { recursive: true, force: true });
  }
}

/** A short, stable digest of a text (FNV-1a), for tags: no node:crypto at start-up. */
function digest(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0");
}
