// `npm run demo`: the main jobs, end to end, on this machine, in a temp folder.
// 1. The seed workflow on the embedded default (the first command starts the local server): a
//    real isolated sandbox runs python, a file goes disk → sandbox, `wc -l` counts it, the result
//    goes sandbox → disk → local. Where this machine cannot make sandboxes (the server says why),
//    only the disk part runs.
// 2. `acontext sandbox start`: scaffold the bundled Cloudflare sandbox worker, install it, start its
//    dev server (containers off when there is no Docker engine), call it, stop it with Ctrl-C.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { node22Dir } from "./node22.js";

const cli = fileURLToPath(new URL("../bin/acontext.js", import.meta.url));
const step = (text) => console.log(`\n▶ ${text}`);

const dir = await mkdtemp(join(tmpdir(), "acontext-demo-"));
try {
  const env = {
    ...process.env,
    PATH: [await node22Dir(), process.env.PATH].join(delimiter),
    WRANGLER_SEND_METRICS: "false",
    XDG_CONFIG_HOME: join(dir, ".config"),
  };
  delete env.npm_config_user_agent;
  const acontext = (args, options = {}) => execa(process.execPath, [cli, ...args], { cwd: dir, env, ...options });

  const localEnv = { ...env, HOME: dir, ACONTEXT_DATA_DIR: join(dir, "server-data"), ACONTEXT_SERVER_PORT: String(await freePort()) };
  const local = (args, options = {}) => execa(process.execPath, [cli, ...args], { cwd: dir, env: localEnv, stderr: "inherit", ...options });
  const show = async (args) => {
    step(`acontext ${args.join(" ")}`);
    const { stdout } = await local(args);
    if (stdout) console.log(stdout);
    return stdout.trim();
  };
  const diskId = await show(["disk", "create"]);
  const unavailable = JSON.parse((await local(["server", "status", "--json"])).stdout).sandboxes?.unavailable;
  await writeFile(join(dir, "notes.txt"), "one\ntwo\nthree\n");
  await show(["disk", "cp", "notes.txt", `disk://${diskId}/docs/`]);
  if (!unavailable) {
    // The seed workflow: a real isolated sandbox on this machine, files moved through the disk.
    const sandboxId = await show(["sandbox", "create"]);
    await show(["sandbox", "exec", sandboxId, "--", "python3 --version"]);
    await show(["sandbox", "exec", sandboxId, "--", "python3", "-c", "print(sum(range(10)))"]);
    await show(["disk", "cp", `disk://${diskId}/docs/notes.txt`, `sandbox://${sandboxId}/workspace/`]);
    await show(["sandbox", "exec", sandboxId, "--", "wc -l < notes.txt > count.txt && cat count.txt"]);
    await show(["disk", "cp", `sandbox://${sandboxId}/workspace/count.txt`, `disk://${diskId}/results/`]);
    await show(["disk", "cp", `disk://${diskId}/results/count.txt`, "count.txt"]);
    const count = (await readFile(join(dir, "count.txt"), "utf8")).trim();
    console.log(count === "3" ? "count.txt says 3, as expected" : `count.txt says ${count}, EXPECTED 3`);
    if (count !== "3") process.exitCode = 1;
    await show(["sandbox", "kill", sandboxId]);
  } else {
    console.log(`\n(no local sandboxes here: ${unavailable}; skipping the sandbox part of the workflow)`);
  }
  await show(["disk", "ls", "-R", `disk://${diskId}/`]);
  await show(["disk", "cp", `disk://${diskId}/docs/notes.txt`, "copy.txt"]);
  const same = (await readFile(join(dir, "copy.txt"), "utf8")) === (await readFile(join(dir, "notes.txt"), "utf8"));
  console.log(same ? "copy.txt is identical to notes.txt" : "copy.txt DIFFERS from notes.txt");
  if (!same) process.exitCode = 1;
  await show(["disk", "rm", "-y", diskId]);
  await show(["server", "stop"]);

  step("acontext sandbox start --template cloudflare --pm npm --no-start   (scaffold + npm install)");
  const created = await acontext(["sandbox", "start", "--template", "cloudflare", "--pm", "npm", "--no-start", "--json"], {
    stderr: "inherit",
  });
  console.log(created.stdout);

  const docker = await execa("docker", ["info"], { reject: false });
  const containers = docker.exitCode === 0 ? [] : ["--no-containers"];
  const port = await freePort();
  step(`acontext sandbox start cloudflare ${[...containers, "--port", port].join(" ")}`);
  const server = acontext(["sandbox", "start", "cloudflare", ...containers, "--port", String(port)], {
    stdout: "pipe",
    stderr: "inherit",
    reject: false,
  });
  const ready = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: server.stdout });
    lines.on("line", (line) => line.startsWith("ready: ") && resolve(line.slice("ready: ".length)));
    lines.once("close", () => reject(new Error("the dev server stopped before it was ready")));
  });
  console.log(`ready at ${ready}`);

  step(`GET ${ready}/`);
  console.log(await (await fetch(`${ready}/`)).text());
  step(`POST ${ready}/sandbox/create {"sandbox_id":"demo"}`);
  const create = await fetch(`${ready}/sandbox/create`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sandbox_id: "demo" }),
  });
  console.log(`${create.status} ${await create.text()}`);

  step("Ctrl-C (SIGINT) to acontext");
  server.kill("SIGINT");
  const { exitCode } = await server;
  const portFree = !(await answers(port));
  console.log(`acontext exited with ${exitCode}; port ${port} ${portFree ? "is free" : "is STILL IN USE"}`);
  if (exitCode !== 130 || !portFree) process.exitCode = 1;
} finally {
  // Whatever happened above, leave no server (and so no sandbox) running.
  await execa(process.execPath, [cli, "server", "stop", "--data-dir", join(dir, "server-data")], { reject: false });
  await rm(dir, { recursive: true, force: true });
}

function freePort() {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function answers(port) {
  return new Promise((resolve) => {
    const socket = createServer().listen(port, "127.0.0.1");
    socket.once("listening", () => socket.close(() => resolve(false)));
    socket.once("error", () => resolve(true));
  });
}
