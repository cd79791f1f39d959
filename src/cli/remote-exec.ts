// Running a command in a sandbox from the terminal: output streamed to our stdout/stderr as it
// comes, piped stdin forwarded, Ctrl-C kills the remote command, the remote exit code returned.
import { once } from "node:events";
import { fstatSync } from "node:fs";
import type { Readable } from "node:stream";
import type { AcontextClient, ExecRequest } from "../client/client.js";
import { trapSignals } from "./signals.js";
import { CancelledError, CliError, EXIT } from "./errors.js";
import { say, style } from "./output.js";
import { commandFromArgv, shellQuote } from "./units.js";

export interface RemoteExecFlags {
  env?: string[];
  workdir?: string;
  /** Seconds. */
  timeout?: number;
}

/**
 * cwd and env written into the command, for an API whose exec takes only `command` (upstream):
 * `export K='v'; cd -- '/dir' && eval 'the command'`, the same semantics. There is no timeout
 * to write in, so that one is an error.
 */
export function inCommand(spec: ExecRequest): ExecRequest {
  if (spec.timeout) {
    throw new CliError("this API has no timeout for exec", { hint: "drop --timeout, or put it in the command: acontext sandbox exec ID -- timeout 30 CMD…", exitCode: EXIT.usage });
  }
  const exports = Object.entries(spec.env ?? {}).map(([name, value]) => `export ${name}=${shellQuote(value)}; `);
  const cd = spec.cwd ? `cd -- ${shellQuote(spec.cwd)} && ` : "";
  return { command: `${exports.join("")}${cd}eval ${shellQuote(spec.command)}` };
}

/** Piped or redirected stdin (a FIFO, file or socket), never a terminal or /dev/null. */
export function pipedStdin(): Readable | undefined {
  try {
    const stat = fstatSync(0);
    return stat.isFIFO() || stat.isFile() || stat.isSocket() ? process.stdin : undefined;
  } catch {
    return undefined;
  }
}

export async function runRemote(client: AcontextClient, id: string, argv: string[], flags: RemoteExecFlags): Promise<number> {
  const env = Object.fromEntries((flags.env ?? []).map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]));
  let spec: ExecRequest = { command: commandFromArgv(argv), cwd: flags.workdir, env: Object.keys(env).length ? env : undefined, timeout: flags.timeout };
  if ((spec.cwd || spec.env || spec.timeout) && !(await client.supports("exec-options"))) spec = inCommand(spec);
  let stdin = pipedStdin();
  if (stdin && !(await client.supports("exec-stdin"))) {
    say(style("dim", `note: ${client.baseUrl} takes no stdin for exec; not forwarding it (send data first: acontext disk cp - sandbox://${id}/path)`));
    stdin.destroy();
    stdin = undefined;
  }
  const trap = trapSignals();
  try {
    return await client.exec(
      id,
      spec,
      {
        stdin,
        signal: trap.signal,
        onOutput: (stream, chunk) => {
          const out = stream === "stdout" ? process.stdout : process.stderr;
          if (!out.write(chunk)) return once(out, "drain").then(() => {});
        },
      },
    );
  } catch (err) {
    if (trap.signal.aborted) throw new CancelledError(trap.signal.reason === "SIGTERM" ? "SIGTERM" : "SIGINT");
    throw err;
  } finally {
    trap.dispose();
    // The command is done: stop reading an input that may never end (an idle pipe), so we exit.
    stdin?.destroy();
  }
}
