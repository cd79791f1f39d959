// The docker backend through a real server process and the built CLI, on a real container engine
// (scripts/docker-engine.sh starts one and builds the test image offline): the seed workflow,
// exec options, a terminal, containers labelled and removed, and a server that dies and comes
// back taking its running sandboxes with it.
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DOCKER_ENGINE, DOCKER_NETWORK, TEST_IMAGE } from "../helpers/backends.js";
import { freePort, runCli, useTempDirs } from "../helpers/cli.js";
import { needs } from "../helpers/requirements.js";
import { call, type ServerProcess, startServerProcess, TEST_KEY } from "../helpers/server.js";

const tempDir = useTempDirs();
const ARGS = ["--backend", "docker", "--image", TEST_IMAGE];

async function containersOf(server: ServerProcess): Promise<Array<{ name: string; state: string }>> {
  const projectId = (await call(server, "POST", "/disk")).body.data.project_id as string;
  const { connectEngine } = await import("../../src/sandbox/docker/engine.js");
  const engine = await connectEngine();
  if ("unavailable" in engine) throw new Error(engine.unavailable);
  const listed = await engine.docker.listContainers({ all: true, filters: { label: [`io.acontext.server=${projectId}`] } });
  return listed.map((info) => ({ name: info.Names[0]!.replace(/^\//, ""), state: info.State }));
}

const suite = needs("sandboxes on a container engine (--backend docker)", DOCKER_ENGINE);
describe.skipIf(suite.skip)(suite.title, () => {
  it("runs the seed workflow through the CLI: create, python, disk → sandbox, wc -l, sandbox → disk, kill", async () => {
    const server = await startServerProcess({ args: [...ARGS, "--warm", "1"] });
    const status = (await call(server, "GET", "/server/status")).body.data.sandboxes;
    expect(status.backend).toBe("docker");
    expect(status.isolation).toMatch(/^a container per sandbox on (Docker|Podman) Engine \S+ at /);
    const work = await tempDir();
    const env = { HOME: await tempDir(), ACONTEXT_BASE_URL: `${server.url}/api/v1`, ACONTEXT_API_KEY: TEST_KEY };
    const cli = (args: string[], input?: string) => runCli(args, { cwd: work, env, input });

    const sandbox = (await cli(["sandbox", "create"])).stdout.trim();
    expect(sandbox).toMatch(/^[0-9a-f-]{36}$/);
    expect((await cli(["sandbox", "exec", sandbox, "--", "python3", "-c", "print(sum(range(10)))"])).stdout).toBe("45");
    const disk = (await cli(["disk", "create"])).stdout.trim();
    await writeFile(join(work, "lines.txt"), "alpha\nbeta\ngamma\n");
    expect((await cli(["disk", "cp", "lines.txt", `disk://${disk}/data/`])).exitCode).toBe(0);
    expect((await cli(["disk", "cp", `disk://${disk}/data/lines.txt`, `sandbox://${sandbox}/workspace/`])).exitCode).toBe(0);
    expect((await cli(["sandbox", "exec", sandbox, "--", "wc -l < lines.txt > count.txt && cat count.txt"])).stdout.trim()).toBe("3");
    expect((await cli(["disk", "cp", `sandbox://${sandbox}/workspace/count.txt`, `disk://${disk}/results/`])).exitCode).toBe(0);
    expect((await cli(["disk", "cp", `disk://${disk}/results/count.txt`, "count.txt"])).exitCode).toBe(0);
    expect((await readFile(join(work, "count.txt"), "utf8")).trim()).toBe("3");
    // Local ↔ sandbox both ways, byte for byte, and a folder.
    const bytes = randomBytes(300_000);
    await writeFile(join(work, "blob.bin"), bytes);
    expect((await cli(["disk", "cp", "blob.bin", `sandbox://${sandbox}/workspace/in/`])).exitCode).toBe(0);
    expect((await cli(["disk", "cp", "-r", `sandbox://${sandbox}/workspace/in`, "back"])).exitCode).toBe(0);
    expect((await readFile(join(work, "back", "blob.bin"))).equals(bytes)).toBe(true);

    const named = (await containersOf(server)).find((container) => container.name.endsWith(sandbox));
    expect(named).toMatchObject({ state: "running" });
    expect((await cli(["sandbox", "kill", sandbox])).exitCode).toBe(0);
    expect((await containersOf(server)).some((container) => container.name.endsWith(sandbox))).toBe(false);
    // The warm one goes with the server.
    expect(await server.kill("SIGTERM")).toMatchObject({ exitCode: 0 });
  });

  const network = needs(
    "create --network through the CLI: a route out, none to the host's side of the bridge; nothing left behind, the bridge network included",
    DOCKER_NETWORK,
  );
  it.skipIf(network.skip)(network.title, async () => {
    const server = await startServerProcess({ args: ARGS });
    const env = { HOME: await tempDir(), ACONTEXT_BASE_URL: `${server.url}/api/v1`, ACONTEXT_API_KEY: TEST_KEY };
    const cli = (args: string[]) => runCli(args, { cwd: env.HOME, env });
    const status = (await call(server, "GET", "/server/status")).body.data.sandboxes;
    expect(status.network).toMatch(/^off by default; network: true gives outbound access through the engine's bridge network acontext-/);
    const sandbox = (await cli(["sandbox", "create", "--network"])).stdout.trim();
    // The default route is there; the gateway (the host) is unreachable: the connect fails at once.
    const probe = `import socket, struct
gateway = [l.split()[2] for l in open("/proc/net/route") if l.split()[7] == "00000000"][0]
address = socket.inet_ntoa(struct.pack("<L", int(gateway, 16)))
print(socket.socket().connect_ex((address, 80)))`;
    expect((await cli(["sandbox", "exec", sandbox, "--", "python3", "-c", probe])).stdout.trim()).toBe("113");
    const projectId = (await call(server, "POST", "/disk")).body.data.project_id as string;
    expect(await server.kill("SIGTERM")).toMatchObject({ exitCode: 0 });
    const { connectEngine } = await import("../../src/sandbox/docker/engine.js");
    const engine = await connectEngine();
    if ("unavailable" in engine) throw new Error(engine.unavailable);
    expect(await engine.docker.listContainers({ all: true, filters: { label: [`io.acontext.server=${projectId}`] } })).toEqual([]);
    expect(await engine.docker.listNetworks({ filters: { label: [`io.acontext.server=${projectId}`] } })).toEqual([]);
  });

  it("exec options: stdin, env, cwd, exit codes and a timeout that ends everything the command started", async () => {
    const server = await startServerProcess({ args: [...ARGS, "--warm", "0"] });
    const work = await tempDir();
    const env = { HOME: await tempDir(), ACONTEXT_BASE_URL: `${server.url}/api/v1`, ACONTEXT_API_KEY: TEST_KEY };
    const cli = (args: string[], input?: string) => runCli(args, { cwd: work, env, input });
    const sandbox = (await cli(["sandbox", "create"])).stdout.trim();
    expect((await cli(["sandbox", "exec", sandbox, "--", "wc", "-l"], "a\nb\nc\n")).stdout.trim()).toBe("3");
    expect((await cli(["sandbox", "exec", "-e", "GREETING=hi there", "-w", "/tmp", sandbox, "--", 'echo "$GREETING from $(pwd)"'])).stdout).toBe(
      "hi there from /tmp",
    );
    expect((await cli(["sandbox", "exec", sandbox, "--", "exit 7"])).exitCode).toBe(7);
    const timed = await cli(["sandbox", "exec", "--timeout", "1s", sandbox, "--", "setsid sleep 3001 > /dev/null 2>&1 < /dev/null & sleep 300"]);
    expect(timed.exitCode).toBe(124);
    expect((await cli(["sandbox", "exec", sandbox, "--", "ps -e -o args="])).stdout).not.toContain("sleep 3001");
  });

  it("a server that dies takes back its sandboxes' containers when it comes again; nothing else is left", async () => {
    const first = await startServerProcess({ args: [...ARGS, "--warm", "1"] });
    const kept = (await call(first, "POST", "/sandbox")).body.data.sandbox_id as string;
    await call(first, "POST", `/sandbox/${kept}/exec`, { command: "echo remembered > /workspace/note" });
    const dataDir = first.dataDir;
    await first.kill("SIGKILL");

    const second = await startServerProcess({ dataDir, args: [...ARGS, "--warm", "0"] });
    expect((await call(second, "GET", `/sandbox/${kept}`)).body.data.sandbox_status).toBe("running");
    expect((await call(second, "POST", `/sandbox/${kept}/exec`, { command: "cat /workspace/note" })).body.data.stdout).toBe("remembered\n");
    // The warm container of the dead server was removed; only the sandbox is left.
    const left = await containersOf(second);
    expect(left.map((container) => container.name.slice(-36))).toEqual([kept]);
    expect((await call(second, "DELETE", `/sandbox/${kept}`)).status).toBe(200);
    expect(await containersOf(second)).toEqual([]);
  });

  it("an image the engine does not have and cannot get: a clear error that names --image and docker load", async () => {
    const server = await startServerProcess({ args: ["--backend", "docker", "--image", "acontext-test/nowhere:none", "--warm", "0"] });
    const created = await call(server, "POST", "/sandbox");
    expect(created.status).toBe(500);
    expect(created.body.error).toContain("acontext-test/nowhere:none");
    expect(created.body.error).toMatch(/docker load -i FILE.*--image NAME/);
  });

  it("a local server started on demand with ACONTEXT_SANDBOX_BACKEND=docker: whoami names the backend, the engine and its version", async () => {
    const home = await tempDir();
    const env = { HOME: home, ACONTEXT_SERVER_PORT: String(await freePort()), ACONTEXT_SANDBOX_BACKEND: "docker", ACONTEXT_SANDBOX_IMAGE: TEST_IMAGE };
    try {
      expect((await runCli(["disk", "create"], { cwd: home, env })).exitCode).toBe(0);
      const whoami = await runCli(["whoami"], { cwd: home, env });
      expect(whoami.stdout).toMatch(/; sandboxes: docker, a container per sandbox on (Docker|Podman) Engine \S+ at /);
    } finally {
      await runCli(["server", "stop", "--force"], { cwd: home, env });
    }
  });
});
