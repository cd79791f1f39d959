// Running a command in a sandbox from the terminal: output streamed to our stdout/stderr as it
// comes, piped stdin forwarded, Ctrl-C kills the remote command, the remote exit code returned.
import { once } from "node:events";
import { fstatSync } from "node:fs";
import type { Readable } from "node:stream";
import type { AcontextClient } from "../client/client.js";
import { trapSignals } from "../scaffold/processes.js";
import { CancelledError } from "./errors.js";
import { commandFromArgv } from "./units.js";

export interface RemoteExecFlags {
  env?: string[];
  workdir?: string;
  /** Seconds. */
  timeout?: number;
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
  const trap = trapSignals();
  const stdin = pipedStdin();
  try {
    return await client.exec(
      id,
      { command: commandFromArgv(argv), cwd: flags.workdir, env: Object.keys(env).length ? env : undefined, timeout: flags.timeout },
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
