// Running a command in a sandbox from the terminal: output streamed to our stdout/stderr as it
// comes, piped stdin forwarded, Ctrl-C kills the remote command, the remote exit code returned.
import { once } from "node:events";
import { fstatSync } from "node:fs";
import type { Readable } from "node:stream";
import type { AcontextClient, ExecRequest } from "../client/client.js";
import { CancelledError, EXIT, ExpectedError } from "../shared/errors.js";
import { commandFromArgv, shellQuote } from "../shared/units.js";
import { say, style } from "./output.js";
import { trapSignals } from "./signals.js";

export interface RemoteExecFlags {
  env?: string[];
  workdir?: string;
  /** Seconds. */
  timeout?: number;
  /** Send piped stdin even to an API that cannot stream it (read to its end first). */
  stdin?: boolean;
  /** Run on a pseudo-terminal wired to ours (raw mode, resizes, Ctrl-C as a keystroke). */
  tty?: boolean;
}

/**
 * cwd and env written into the command, for an API whose exec takes only `command` (upstream):
 * `export K='v'; cd -- '/dir' && eval 'the command'`, the same semantics. There is no timeout
 * to write in, so that one is an error.
 */
export function inCommand(spec: ExecRequest): ExecRequest {
  if (spec.timeout) {
    throw new ExpectedError("this API has no timeout for exec", {
      hint: "drop --timeout, or put it in the command: acontext sandbox exec ID -- timeout 30 CMD…",
      exitCode: EXIT.usage,
    });
  }
  const exports = Object.entries(spec.env ?? {}).map(([name, value]) => `export ${name}=${shellQuote(value)}; `);
  const cd = spec.cwd ? `cd -- ${shellQuote(spec.cwd)} && ` : "";
  return { command: `${exports.join("")}${cd}eval ${shellQuote(spec.command)}` };
}

/** Piped or redirected stdin (a FIFO, file or socket), never a terminal or /dev/null. */
export function pipedStdin(): { stream: Readable; fileSize?: number } | undefined {
  try {
    const stat = fstatSync(0);
    if (stat.isFile()) return { stream: process.stdin, fileSize: stat.size };
    return stat.isFIFO() || stat.isSocket() ? { stream: process.stdin } : undefined;
  } catch {
    return undefined;
  }
}

export async function runRemote(client: AcontextClient, id: string, argv: string[], flags: RemoteExecFlags): Promise<number> {
  const env = Object.fromEntries((flags.env ?? []).map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]));
  if (flags.tty) return runOnTerminal(client, id, { command: commandFromArgv(argv), cwd: flags.workdir, env, timeout: flags.timeout });
  let spec: ExecRequest = { command: commandFromArgv(argv), cwd: flags.workdir, env: Object.keys(env).length ? env : undefined, timeout: flags.timeout };
  if ((spec.cwd || spec.env || spec.timeout) && !(await client.supports("exec-options"))) spec = inCommand(spec);
  const piped = pipedStdin();
  let stdin = piped?.stream;
  const trap = trapSignals();
  let staging: import("../transfer/copy.js").StagingDisk | undefined;
  try {
    if (piped && !(await client.supports("exec-stdin"))) {
      stdin = undefined;
      // The API runs the command to its end in one request: stdin has to be there before it
      // starts. A file has an end; a pipe may never end (an agent's idle stdin), so only on request.
      if (piped.fileSize !== undefined || flags.stdin) {
        const { StagingDisk } = await import("../transfer/copy.js");
        staging = new StagingDisk(client);
        spec = { ...spec, command: (await staging.stdinFile(id, piped.stream, piped.fileSize, trap.signal)) + spec.command };
        if (trap.signal.aborted) throw new CancelledError();
      } else {
        say(style("dim", `note: ${client.baseUrl} cannot stream stdin to exec; not forwarding it (--stdin sends it whole before the command starts)`));
        piped.stream.destroy();
      }
    }
    return await client.exec(id, spec, {
      stdin,
      signal: trap.signal,
      onOutput: (stream, chunk) => writeOutput(stream === "stdout" ? process.stdout : process.stderr, chunk),
    });
  } catch (err) {
    if (trap.signal.aborted) throw new CancelledError(trap.signal.reason);
    throw err;
  } finally {
    trap.dispose();
    // The command is done: stop reading an input that may never end (an idle pipe), so we exit.
    stdin?.destroy();
    await staging?.remove();
  }
}

/**
 * `exec -t`: the command on a pseudo-terminal in the sandbox, wired to ours. Our terminal goes raw
 * (keys, Ctrl-C included, go to the remote program as typed), its size follows ours, and it is
 * restored however the command ends.
 */
async function runOnTerminal(client: AcontextClient, id: string, spec: ExecRequest & { env: Record<string, string> }): Promise<number> {
  const input = process.stdin;
  if (!input.isTTY)
    throw new ExpectedError("--tty needs a terminal, and stdin is not one", { hint: "drop -t to pipe input to the command", exitCode: EXIT.usage });
  if (!(await client.supports("exec-tty"))) {
    throw new ExpectedError(`${client.baseUrl} has no terminal for exec`, {
      hint: "drop -t; output still streams, and piped stdin is forwarded",
      exitCode: EXIT.usage,
    });
  }
  const output = process.stdout;
  // A terminal that reports no size (0 × 0: some CI and serial consoles), or stdout that is not one:
  // LINES and COLUMNS, else 24 × 80.
  const size = () => ({
    rows: (output.isTTY && output.rows) || Number(process.env.LINES) || 24,
    cols: (output.isTTY && output.columns) || Number(process.env.COLUMNS) || 80,
  });
  let onResize: (() => void) | undefined;
  const trap = trapSignals();
  input.setRawMode(true);
  try {
    return await client.exec(
      id,
      { ...spec, env: { TERM: process.env.TERM || "xterm-256color", ...spec.env } },
      {
        stdin: input,
        signal: trap.signal,
        tty: {
          ...size(),
          onResize: (listener) => {
            onResize = () => listener(size());
            output.on("resize", onResize);
          },
        },
        onOutput: (_stream, chunk) => writeOutput(output, chunk),
      },
    );
  } catch (err) {
    if (trap.signal.aborted) throw new CancelledError(trap.signal.reason);
    throw err;
  } finally {
    input.setRawMode(false);
    input.destroy();
    if (onResize) output.off("resize", onResize);
    trap.dispose();
  }
}

/** Writes remote output here; a full stream pauses the remote command until it drains. */
function writeOutput(out: NodeJS.WriteStream, chunk: Buffer): void | Promise<void> {
  if (!out.write(chunk)) return once(out, "drain").then(() => {});
}
