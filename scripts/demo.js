// `npm run demo` (`-- --verbose` for every line the tools print): the main jobs, end to end, on
// this machine, in a temp folder, then one line that says whether it all worked.
// 1. The seed workflow on the embedded default (the first command starts the local server): a
//    real isolated sandbox runs python, a file goes disk → sandbox, `wc -l` counts it, the result
//    goes sandbox → disk → local. Where this machine cannot make sandboxes (the server says why),
//    only the disk part runs.
// 2. `acontext sandbox start`: scaffold the bundled Cloudflare sandbox worker, install it, start its
//    dev server (containers off when there is no Docker engine; on a Node older than wrangler's
//    22.12 the CLI fetches one), call it, stop it with Ctrl-C.
// What npm and wrangler print is kept out of the way unless --verbose (and shown if a step fails);
// a failure that is expected here is said in one line.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

const verbose = process.argv.includes("--verbose");
const cli = fileURLToPath(new URL("../bin/acontext.js", import.meta.url));
const started = Date.now();
const passed = [];
let current = "setting up";

/** An argument as a shell would need it, so an echoed command can be pasted as it is. */
const quote = (arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${String(arg).replace(/'/g, "'\\''")}'`);
const step = (text) => {
  current = text;
  console.log(`\n▶ ${text}`);
};
const check = (ok, what) => {
  if (!ok) throw new Error(what);
  passed.push(what);
  console.log(`  ✓ ${what}`);
};
/** Lines of a tool behind acontext (prefixed like "[cloudflare] …"): kept, shown with --verbose or on failure. */
const toolLines = [];
const relay = (stream) =>
  createInterface({ input: stream }).on("line", (line) => {
    if (/^\[[\w.-]+\]( |$)/.test(line)) {
      toolLines.push(line);
      if (verbose) console.error(line);
    } else if (line !== "press Ctrl-C to stop") console.error(`  ${line}`);
  });

const dir = await mkdtemp(join(tmpdir(), "acontext-demo-"));
try {
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", XDG_CONFIG_HOME: join(dir, ".config") };
  delete env.npm_config_user_agent;
  const localEnv = { ...env, HOME: dir, ACONTEXT_DATA_DIR: join(dir, "server-data"), ACONTEXT_SERVER_PORT: String(await freePort()) };
  const acontext = (args, options = {}) => {
    const child = execa(process.execPath, [cli, ...args], { cwd: dir, env: localEnv, reject: false, stderr: "pipe", ...options });
    relay(child.stderr);
    return child;
  };
  const show = async (args) => {
    step(`acontext ${args.map(quote).join(" ")}`);
    const result = await acontext(args);
    if (result.stdout) console.log(result.stdout);
    if (result.exitCode !== 0) throw new Error(`acontext ${args[0]} ${args[1] ?? ""} exited with ${result.exitCode}`);
    return result.stdout.trim();
  };

  const diskId = await show(["disk", "create"]);
  const unavailable = JSON.parse((await acontext(["server", "status", "--json"])).stdout).sandboxes?.unavailable;
  await writeFile(join(dir, "notes.txt"), "one\ntwo\nthree\n");
  await show(["disk", "cp", "notes.txt", `disk://${diskId}/docs/`]);
  if (!unavailable) {
    // The seed workflow: a real isolated sandbox on this machine, files moved through the disk.
    const sandboxId = await show(["sandbox", "create"]);
    check((await show(["sandbox", "exec", sandboxId, "--", "python3 --version"])).startsWith("Python 3"), "python3 runs in the sandbox");
    check(
      (await show(["sandbox", "exec", sandboxId, "--", "python3", "-c", "print(sum(range(10)))"])) === "45",
      "python3 -c 'print(sum(range(10)))' prints 45",
    );
    await show(["disk", "cp", `disk://${diskId}/docs/notes.txt`, `sandbox://${sandboxId}/workspace/`]);
    await show(["sandbox", "exec", sandboxId, "--", "wc -l < notes.txt > count.txt && cat count.txt"]);
    await show(["disk", "cp", `sandbox://${sandboxId}/workspace/count.txt`, `disk://${diskId}/results/`]);
    await show(["disk", "cp", `disk://${diskId}/results/count.txt`, "count.txt"]);
    check((await readFile(join(dir, "count.txt"), "utf8")).trim() === "3", "count.txt came back from the sandbox through the disk and says 3");
    await show(["sandbox", "kill", sandboxId]);
  } else {
    console.log(`\n(no local sandboxes on this machine: ${unavailable}; the sandbox steps are skipped)`);
  }
  await show(["disk", "ls", "-R", `disk://${diskId}/`]);
  await show(["disk", "cp", `disk://${diskId}/docs/notes.txt`, "copy.txt"]);
  check((await readFile(join(dir, "copy.txt"), "utf8")) === (await readFile(join(dir, "notes.txt"), "utf8")), "copy.txt is identical to notes.txt");
  await show(["disk", "rm", "-y", diskId]);
  await show(["server", "stop"]);

  // 2. A sandbox backend project, from the bundled template.
  const start = (args, options) => acontext(args, { env, ...options });
  step("acontext sandbox start --template cloudflare --pm npm --no-start   (create, npm install)");
  const created = await start(["sandbox", "start", "--template", "cloudflare", "--pm", "npm", "--no-start", "--json"]);
  if (created.exitCode !== 0) throw new Error(`sandbox start --no-start exited with ${created.exitCode}`);
  check(JSON.parse(created.stdout).installed === true, "sandbox/cloudflare created and installed with npm");

  const docker = await execa("docker", ["info"], { reject: false });
  const containers = docker.exitCode === 0;
  const port = await freePort();
  const startArgs = ["sandbox", "start", "cloudflare", ...(containers ? [] : ["--no-containers"]), "--port", String(port)];
  step(`acontext ${startArgs.join(" ")}${containers ? "" : "   (no Docker engine here: containers off)"}`);
  const server = start(startArgs, { stdout: "pipe", buffer: false });
  const ready = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: server.stdout });
    lines.on("line", (line) => line.startsWith("ready: ") && resolve(line.slice("ready: ".length)));
    lines.once("close", () => reject(new Error("the dev server stopped before it was ready")));
  });
  check(ready === `http://localhost:${port}`, `ready at ${ready}`);

  step(`GET ${ready}/`);
  const index = await (await fetch(`${ready}/`)).json();
  check(index.service === "acontext-sandbox-cloudflare", "the worker answers with its protocol's endpoints");
  step(`POST ${ready}/sandbox/create {"sandbox_id":"demo"}`);
  const create = await fetch(`${ready}/sandbox/create`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"sandbox_id":"demo"}' });
  const answer = await create.text();
  if (containers) check(create.status === 200, `a sandbox was created: ${answer}`);
  else {
    // wrangler logs this one as an uncaught error with a stack (hidden here): it is the expected answer.
    check(
      create.status === 500 && answer.includes("Containers have not been enabled"),
      "500 as expected with containers off: the worker runs, a sandbox needs Docker",
    );
  }

  step("Ctrl-C (SIGINT) to acontext");
  server.kill("SIGINT");
  const { exitCode } = await server;
  check(exitCode === 130, "acontext exited with 130 (stopped by Ctrl-C)");
  check(!(await taken(port)), `port ${port} is free again (the whole dev server tree is gone)`);
} catch (err) {
  process.exitCode = 1;
  if (!verbose && toolLines.length) console.error(`\nthe last lines npm and wrangler printed:\n${toolLines.slice(-30).join("\n")}`);
  console.error(`\n✘ demo failed at "${current}": ${err.message}`);
} finally {
  // Whatever happened above, leave no server (and so no sandbox) running.
  await execa(process.execPath, [cli, "server", "stop", "--force", "--data-dir", join(dir, "server-data")], { reject: false });
  await rm(dir, { recursive: true, force: true });
}
const seconds = Math.round((Date.now() - started) / 1000);
if (!process.exitCode)
  console.log(`\n✔ demo passed: ${passed.length} checks in ${seconds} s${verbose ? "" : " (npm run demo -- --verbose shows what npm and wrangler printed)"}`);

function freePort() {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function taken(port) {
  return new Promise((resolve) => {
    const socket = createServer().listen(port, "127.0.0.1");
    socket.once("listening", () => socket.close(() => resolve(false)));
    socket.once("error", () => resolve(true));
  });
}
