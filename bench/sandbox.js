// Local sandboxes through the real server's HTTP API, against `sh -c true` on the host measured in
// the same run: create and time to interactive (cold, and warm), a burst of creates, exec round
// trip, 20 sandboxes × 50 execs at once, and memory per idle sandbox. Needs root (real namespaces); prints why not otherwise.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, createAndExec, KEY, samples, startServer, stats, timeSync } from "./lib.js";

export async function benchSandbox() {
  if (process.getuid?.() !== 0) return "skipped: local sandboxes need root";
  const work = await mkdtemp(join(tmpdir(), "acontext-bench-sbx-"));
  // The sandbox state dir's parents must be passable by the sandboxes' own uids: not under `work`.
  const sandboxDir = await mkdtemp(join(tmpdir(), "acontext-bench-sandboxes-"));
  const env = { ...process.env, ACONTEXT_SANDBOX_DIR: sandboxDir };
  const servers = [];
  try {
    const hostTrue = samples(200, () => timeSync(() => spawnSync("sh", ["-c", "true"])));

    // Cold: nothing made ahead (--warm 0).
    const cold = await startServer(env, join(work, "cold"), ["--warm", "0"]);
    servers.push(cold);
    // Warm the machine-wide skeleton once; creates after it are the normal (cold) creates.
    await cold.api("DELETE", `/sandbox/${(await cold.api("POST", "/sandbox")).data.sandbox_id}`);
    const coldRuns = await createAndExec(cold, 20, 0);
    // A burst: 12 creates at once on the cold server, until all are made (then they go again).
    const bursts = [];
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      const made = await Promise.all(Array.from({ length: 12 }, () => cold.api("POST", "/sandbox")));
      bursts.push(performance.now() - start);
      await Promise.all(made.map((answer) => cold.api("DELETE", `/sandbox/${answer.data.sandbox_id}`)));
    }

    // Warm (the default, --warm 1): a pause after each create lets the next warm one be made,
    // as between an agent's tasks; back to back, creates wait for the one being made.
    const warm = await startServer(env, join(work, "warm"), ["--warm", "1"]);
    servers.push(warm);
    await warm.api("DELETE", `/sandbox/${(await warm.api("POST", "/sandbox")).data.sandbox_id}`);
    const warmRuns = await createAndExec(warm, 20, 500);
    const ids = warmRuns.ids;
    const url = warm.url;
    const api = warm.api;

    const execs = [];
    for (let i = 0; i < 200; i++) {
      const start = performance.now();
      await api("POST", `/sandbox/${ids[0]}/exec`, { command: "true" });
      execs.push(performance.now() - start);
    }

    // The warm server holds 20 idle sandboxes plus the one kept warm; the cold one, 20.
    const rss = idleRss();

    // The CLI end to end: `acontext sandbox exec ID -- true` against bare `node -e 0`, interleaved.
    const cliEnv = { ...env, ACONTEXT_BASE_URL: url, ACONTEXT_API_KEY: KEY };
    delete cliEnv.NODE_EXTRA_CA_CERTS;
    const nodeBare = [];
    const cliExec = [];
    for (let i = 0; i < 30; i++) {
      nodeBare.push(timeSync(() => spawnSync(process.execPath, ["-e", "0"], { env: cliEnv })));
      const run = () => spawnSync(process.execPath, [cli, "sandbox", "exec", ids[1], "--", "true"], { env: cliEnv, stdio: "ignore" });
      cliExec.push(
        timeSync(() => {
          if (run().status !== 0) throw new Error("acontext sandbox exec failed");
        }),
      );
    }

    // 20 sandboxes × 50 execs, all sandboxes at once.
    let errors = 0;
    let firstError;
    const concurrent = [];
    const loadStart = performance.now();
    await Promise.all(
      ids.map(async (id) => {
        for (let i = 0; i < 50; i++) {
          const start = performance.now();
          try {
            const result = await api("POST", `/sandbox/${id}/exec`, { command: "echo ok" });
            if (result.data?.stdout !== "ok\n") {
              errors++;
              firstError ??= JSON.stringify(result);
            }
          } catch (err) {
            errors++;
            firstError ??= String(err);
          }
          concurrent.push(performance.now() - start);
        }
      }),
    );
    const loadSeconds = (performance.now() - loadStart) / 1000;

    const row = (name, xs) => {
      const s = stats(xs);
      return `| ${name} | ${s.p50.toFixed(1)} | ${s.p95.toFixed(1)} | ${s.p99.toFixed(1)} | ${(s.p50 / stats(hostTrue).p50).toFixed(1)}× |`;
    };
    return [
      `Local sandboxes through the HTTP API, loopback, Node ${process.version}`,
      "",
      "| operation | p50 ms | p95 ms | p99 ms | p50 vs host `sh -c true` |",
      "| --- | --- | --- | --- | --- |",
      row("host `sh -c true` (baseline)", hostTrue),
      row("sandbox create, cold (`--warm 0`)", coldRuns.creates),
      row("time to interactive, cold (create + first exec)", coldRuns.ttis),
      row("sandbox create, warm (default `--warm 1`)", warmRuns.creates),
      row("time to interactive, warm", warmRuns.ttis),
      row("exec `true` round trip (POST …/exec)", execs),
      row("20 sandboxes × 50 execs at once, per exec", concurrent),
      "",
      "| CLI, end to end | p50 ms | p95 ms | Δ p50 vs `node -e 0` |",
      "| --- | --- | --- | --- |",
      `| \`node -e 0\` (baseline) | ${stats(nodeBare).p50.toFixed(1)} | ${stats(nodeBare).p95.toFixed(1)} | — |`,
      `| \`acontext sandbox exec ID -- true\` | ${stats(cliExec).p50.toFixed(1)} | ${stats(cliExec).p95.toFixed(1)} | +${(stats(cliExec).p50 - stats(nodeBare).p50).toFixed(1)} ms |`,
      "",
      `Burst: 12 cold creates at once, all made in ${stats(bursts).p50.toFixed(0)} ms (median of ${bursts.length}).`,
      `Concurrent run: ${concurrent.length} execs in ${loadSeconds.toFixed(1)} s (${(concurrent.length / loadSeconds).toFixed(0)} execs/s), errors ${errors}${firstError ? ` (first: ${firstError})` : ""}.`,
      `Idle sandbox: ${rss.processes.toFixed(1)} processes, ${rss.rssMiB.toFixed(1)} MiB RSS (shared pages counted in full), ${rss.cgroupMiB.toFixed(1)} MiB charged to its memory cgroup.`,
    ].join("\n");
  } finally {
    for (const server of servers) await server.stop();
    await rm(work, { recursive: true, force: true });
    await rm(sandboxDir, { recursive: true, force: true });
  }
}

/** Processes and RSS of every sandbox process (host uids from 1 000 000 up), per sandbox. */
function idleRss() {
  let rssKiB = 0;
  let processes = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)[1]);
      if (uid < 1_000_000) continue;
      processes++;
      rssKiB += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  let cgroupBytes = 0;
  let sandboxes = 0;
  for (const id of readdirSync("/sys/fs/cgroup/memory/acontext").filter((d) => /^[0-9a-f-]{36}$/.test(d))) {
    cgroupBytes += Number(readFileSync(`/sys/fs/cgroup/memory/acontext/${id}/memory.usage_in_bytes`, "utf8"));
    sandboxes++;
  }
  return { processes: processes / sandboxes, rssMiB: rssKiB / 1024 / sandboxes, cgroupMiB: cgroupBytes / 1024 ** 2 / sandboxes };
}
