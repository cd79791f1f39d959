// The docker backend through the real server's HTTP API, beside the engine itself in the same run:
// `docker run --rm IMAGE true` and a raw Engine-API exec (create, start, inspect, through dockerode)
// as the anchors; create and time to interactive (cold, warm), exec round trip, and 1 GiB out of
// a sandbox with `acontext disk cp` against `docker cp`. Needs an engine (DOCKER_HOST) and the
// test image (scripts/docker-engine.sh start && scripts/docker-engine.sh image).
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, createAndExec, KEY, startServer, stats, timeSync } from "./lib.js";

const IMAGE = process.env.ACONTEXT_TEST_IMAGE || "acontext-test/base:bookworm";

export async function benchDocker() {
  const { default: Docker } = await import("dockerode");
  const docker = new Docker();
  try {
    await docker.getImage(IMAGE).inspect();
  } catch (err) {
    return `skipped: no engine with ${IMAGE} (${err.message}); run scripts/docker-engine.sh start && scripts/docker-engine.sh image`;
  }
  const work = await mkdtemp(join(tmpdir(), "acontext-bench-docker-"));
  const servers = [];
  const containers = [];
  try {
    // Anchors: the docker CLI's run, and a raw exec through the Engine API.
    const dockerRun = Array.from({ length: 10 }, () => timeSync(() => spawnSync("docker", ["run", "--rm", "--network", "none", IMAGE, "true"])));
    const raw = await docker.createContainer({ Image: IMAGE, Cmd: ["sleep", "infinity"], HostConfig: { NetworkMode: "none", Init: true } });
    containers.push(raw);
    await raw.start();
    const rawExecs = [];
    for (let i = 0; i < 60; i++) {
      const start = performance.now();
      const exec = await raw.exec({ Cmd: ["true"], AttachStdout: true, AttachStderr: true });
      const stream = await exec.start({ hijack: true });
      stream.resume();
      await new Promise((resolve) => stream.once("end", resolve));
      await exec.inspect();
      rawExecs.push(performance.now() - start);
    }
    const cliExec = Array.from({ length: 20 }, () => timeSync(() => spawnSync("docker", ["exec", raw.id, "true"])));

    const env = { ...process.env };
    const cold = await startServer(env, join(work, "cold"), ["--backend", "docker", "--image", IMAGE, "--warm", "0"]);
    servers.push(cold);
    const coldRuns = await createAndExec(cold, 10, 0);
    const warm = await startServer(env, join(work, "warm"), ["--backend", "docker", "--image", IMAGE, "--warm", "1"]);
    servers.push(warm);
    await warm.api("DELETE", `/sandbox/${(await warm.api("POST", "/sandbox")).data.sandbox_id}`);
    const warmRuns = await createAndExec(warm, 10, 1500);
    const id = warmRuns.ids[0];
    const execs = [];
    for (let i = 0; i < 60; i++) {
      const start = performance.now();
      await warm.api("POST", `/sandbox/${id}/exec`, { command: "true" });
      execs.push(performance.now() - start);
    }

    // 1 GiB out of a sandbox: the CLI (the sandbox-files route) against the engine's own exec stream
    // of the same file (`docker exec … cat`; `docker cp` cannot read a tmpfs mount, where a
    // sandbox's workspace is).
    const big = (await warm.api("POST", "/sandbox", { limits: { memory_mb: 3072, disk_mb: 1200 } })).data.sandbox_id;
    await warm.api("POST", `/sandbox/${big}/exec`, { command: "head -c 1073741824 /dev/urandom > /workspace/big", timeout: 600 });
    const bigContainer = (await docker.listContainers({ filters: { name: [big] } }))[0].Id;
    const cliEnv = { ...process.env, ACONTEXT_BASE_URL: `${warm.url}/api/v1`, ACONTEXT_API_KEY: KEY };
    const copies = { cli: [], dockerExec: [] };
    for (let i = 0; i < 3; i++) {
      const ours = join(work, `ours-${i}`);
      copies.cli.push(
        timeSync(() => spawnSync(process.execPath, [cli, "disk", "cp", `sandbox://${big}/workspace/big`, ours], { env: cliEnv, stdio: "ignore" })),
      );
      if ((await stat(ours)).size !== 1024 ** 3) throw new Error("the CLI copied the wrong size");
      await rm(ours);
      const theirs = join(work, `theirs-${i}`);
      copies.dockerExec.push(timeSync(() => spawnSync("sh", ["-c", 'docker exec "$0" cat /workspace/big > "$1"', bigContainer, theirs], { stdio: "ignore" })));
      if ((await stat(theirs)).size !== 1024 ** 3) throw new Error("docker exec cat copied the wrong size");
      await rm(theirs);
    }

    const p50 = (xs) => stats(xs).p50;
    const row = (name, xs, anchor) =>
      `| ${name} | ${p50(xs).toFixed(1)} | ${stats(xs).p95.toFixed(1)} | ${anchor ? `${(p50(xs) / anchor).toFixed(2)}×` : "—"} |`;
    const runAnchor = p50(dockerRun);
    const execAnchor = p50(rawExecs);
    return [
      `The docker backend (${IMAGE}) through the HTTP API, loopback, Node ${process.version}`,
      "",
      "| operation | p50 ms | p95 ms | vs anchor |",
      "| --- | --- | --- | --- |",
      row("`docker run --rm IMAGE true` (anchor for creates)", dockerRun),
      row("raw Engine-API exec `true` (anchor for execs)", rawExecs),
      row("`docker exec CONTAINER true`", cliExec, execAnchor),
      row("sandbox create, cold (`--warm 0`)", coldRuns.creates, runAnchor),
      row("time to interactive, cold (create + first exec)", coldRuns.ttis, runAnchor),
      row("sandbox create, warm (`--warm 1`)", warmRuns.creates, runAnchor),
      row("time to interactive, warm", warmRuns.ttis, runAnchor),
      row("exec `true` round trip (POST …/exec)", execs, execAnchor),
      "",
      `1 GiB out of a sandbox (median of 3): \`acontext disk cp\` ${(p50(copies.cli) / 1000).toFixed(2)} s, \`docker exec … cat\` ${(p50(copies.dockerExec) / 1000).toFixed(2)} s: ${(p50(copies.dockerExec) / p50(copies.cli)).toFixed(2)}× its throughput.`,
    ].join("\n");
  } finally {
    for (const server of servers) await server.stop();
    for (const container of containers) await container.remove({ force: true }).catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}
