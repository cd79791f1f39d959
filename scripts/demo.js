// `npm run demo`: the main job, end to end, on this machine. In a temp folder it scaffolds the
// bundled Cloudflare sandbox worker, installs it, starts its dev server through
// `acontext sandbox start` (containers off when there is no Docker engine), talks to it, and
// stops it with Ctrl-C (SIGINT), checking that nothing is left behind.
import { mkdtemp, rm } from "node:fs/promises";
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
