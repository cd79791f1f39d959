// Network for the docker sandboxes that ask for it: a bridge network of this server's, joined at
// create, and fenced in each container's namespace (fence.pl) before any sandbox code runs, so
// that the host, the other containers and the private ranges stay out of reach. Names resolve
// through the engine's DNS inside the container (127.0.0.11, loopback: not fenced off).
import type Docker from "dockerode";
import { unreachableNets } from "../unreachable.js";
import fenceProgram from "./fence.pl";
import { demultiplex } from "./streams.js";

/** How long the fence's helper may take (it makes a few netlink requests). */
const FENCE_TIMEOUT_MS = 30_000;

/** The bridge network of this server's sandboxes, made if missing; its name. */
export async function ensureNetwork(docker: Docker, name: string, labels: Record<string, string>): Promise<string> {
  const found = await docker.listNetworks({ filters: { name: [name] } });
  if (found.some((network) => network.Name === name)) return name;
  await docker
    .createNetwork({ Name: name, Driver: "bridge", CheckDuplicate: true, Labels: labels, Options: { "com.docker.network.bridge.enable_icc": "false" } })
    .catch((err: { statusCode?: number }) => {
      // Made meanwhile by another server of the same namespace.
      if (err.statusCode !== 409) throw err;
    });
  return name;
}

/**
 * Runs fence.pl in `sandbox`'s network namespace, from a short-lived container of the same image
 * that has CAP_NET_ADMIN and nothing else of the sandbox's (the sandbox itself keeps none), before
 * the sandbox is handed out. The helper's processes are not in the sandbox's pid namespace.
 */
export async function fence(
  docker: Docker,
  sandbox: Docker.Container,
  helper: { image: string; labels: Record<string, string>; securityOpt: string[] },
): Promise<void> {
  const container = await docker.createContainer({
    Image: helper.image,
    Entrypoint: ["/usr/bin/perl", "-e", fenceProgram, ...unreachableNets()],
    User: "0:0",
    Env: ["PATH=/usr/bin:/bin"],
    Labels: helper.labels,
    HostConfig: {
      NetworkMode: `container:${sandbox.id}`,
      CapDrop: ["ALL"],
      CapAdd: ["NET_ADMIN"],
      SecurityOpt: helper.securityOpt,
      ReadonlyRootfs: true,
      Memory: 64 * 1024 ** 2,
      PidsLimit: 16,
    },
  });
  try {
    await container.start();
    // A few netlink requests: bounded all the same, so a create can never hang on it.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the sandbox's network fence did not finish in ${FENCE_TIMEOUT_MS / 1000} s`)), FENCE_TIMEOUT_MS);
    });
    const { StatusCode } = (await Promise.race([container.wait(), timedOut]).finally(() => clearTimeout(timer))) as { StatusCode: number };
    if (StatusCode !== 0) {
      const log: Buffer[] = [];
      await demultiplex([await container.logs({ stdout: true, stderr: true, follow: false })], (_kind, chunk) => void log.push(chunk));
      const message = Buffer.concat(log).toString().trim();
      throw new Error(`the sandbox's network could not be fenced off (${message || `exit ${StatusCode}`}); the image needs /usr/bin/perl`);
    }
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
}
