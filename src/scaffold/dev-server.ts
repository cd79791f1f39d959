// Runs a project's dev server in its own session, hands its output on line by line, reports when
// its port answers HTTP, and stops the whole process tree on request.
import { request } from "node:http";
import { EXIT, ExpectedError } from "../shared/errors.js";
import { forEachLine, LineTail, portAnswers, sessionMembers, signalNumber, sleep, stopSession } from "../shared/processes.js";

/** Hosts a local dev server may listen on (wrangler binds 127.0.0.1; others bind ::1 or both). */
const LOOPBACK_HOSTS = ["127.0.0.1", "::1"];

export interface DevServerOptions {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  port: number;
  /** Each line of the server's output (stdout and stderr), as it comes. */
  onLine: (line: string) => void;
  /** Details for whoever debugs (pids, what is stopped). */
  onDebug?: (message: string) => void;
  /** Aborted with reason "SIGINT" or "SIGTERM" to stop the server. */
  signal: AbortSignal;
  /** Resolves when the user asks again (second Ctrl-C): skip the grace period. */
  hurry?: Promise<unknown>;
  /** How long the tree gets after SIGTERM before SIGKILL. */
  graceMs?: number;
  onReady: (url: string) => void;
}

export interface DevServerResult {
  /** The exit code for the CLI: 130 after Ctrl-C, 143 after SIGTERM, else the server's. */
  exitCode: number;
  /** How it ended. */
  reason: "stopped" | "exited";
}

const TAIL_LINES = 15;

/** Errors if something already answers on the port, so readiness can't be faked by a stranger. */
export async function assertPortFree(port: number): Promise<void> {
  for (const host of LOOPBACK_HOSTS) {
    if (await portAnswers(port, host)) {
      throw new ExpectedError(`port ${port} is already in use (something answers on ${formatHost(host)}:${port})`, {
        hint: `stop that process or pick another port with --port`,
      });
    }
  }
}

export async function runDevServer(options: DevServerOptions): Promise<DevServerResult> {
  const { execa } = await import("execa");
  const child = execa(options.command, options.args, {
    cwd: options.cwd,
    env: options.env,
    // Its own session (setsid): a terminal's Ctrl-C reaches only us, and we stop the whole tree.
    detached: true,
    // Not the terminal: wrangler's hotkeys would put it in raw mode and swallow Ctrl-C.
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    buffer: false,
    reject: false,
    cleanup: false,
  });
  const tail = new LineTail(TAIL_LINES);
  const onLine = (line: string) => {
    tail.push(line);
    options.onLine(line);
  };
  const streamsDone = Promise.all([forEachLine(child.stdout, onLine), forEachLine(child.stderr, onLine)]);

  let exited = false;
  const exit = child.then((result) => {
    exited = true;
    return result;
  });
  const aborted = new Promise<void>((resolve) => {
    if (options.signal.aborted) resolve();
    else options.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  const pid = child.pid;
  options.onDebug?.(`dev server pid ${pid} (its own session); polling http://localhost:${options.port}/`);

  let ready = false;
  while (!exited && !options.signal.aborted) {
    if (!ready && pid !== undefined && (await httpAnswers(options.port))) {
      ready = true;
      options.onReady(`http://localhost:${options.port}`);
    }
    await Promise.race([exit, aborted, ...(ready ? [] : [sleep(200)])]);
  }

  if (pid !== undefined && (!exited || sessionMembers(pid).length > 0)) {
    options.onDebug?.(`stopping session ${pid}: ${sessionMembers(pid).join(", ")}`);
    await stopSession(pid, options.graceMs ?? 5000, options.hurry);
  }
  const result = await exit;
  await streamsDone;

  if (options.signal.aborted) {
    const exitCode = options.signal.reason === "SIGTERM" ? EXIT.terminated : EXIT.interrupted;
    return { exitCode, reason: "stopped" };
  }
  if (result.failed && result.exitCode === undefined && !result.signal) {
    // Spawning failed (e.g. the binary vanished): execa's message says why.
    throw new ExpectedError(`could not start ${options.command}: ${result.shortMessage}`);
  }
  const exitCode = result.exitCode ?? 128 + signalNumber(result.signal);
  if (exitCode === 0 && ready) return { exitCode, reason: "exited" };
  const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${exitCode}`;
  const when = ready ? "" : ` before it answered on port ${options.port}`;
  const lines = tail.format("; its last output:");
  throw new ExpectedError(`the dev server ${how}${when}${lines}`, {
    exitCode: exitCode === 0 ? EXIT.failure : exitCode,
  });
}

/** True if an HTTP server answers (any status) on a loopback address. */
async function httpAnswers(port: number): Promise<boolean> {
  for (const host of LOOPBACK_HOSTS) {
    const answered = await new Promise<boolean>((resolve) => {
      const req = request({ host, port, path: "/", method: "GET", timeout: 2000 }, (res) => {
        res.resume();
        resolve(true);
      });
      req.once("timeout", () => req.destroy());
      req.once("error", () => resolve(false));
      req.end();
    });
    if (answered) return true;
  }
  return false;
}

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
