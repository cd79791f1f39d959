// What every command that calls the API shares: the target flags, and running with a connection
// whose failures become one-line errors with hints. Light at start-up: the client loads lazily.
import type { Command } from "commander";
import type { Connection, TargetFlags } from "./connect.js";

export function addTargetOptions(command: Command): Command {
  return command
    .option("--base-url <url>", "Acontext API to use (default: ACONTEXT_BASE_URL, the login, else the local server)")
    .option("--api-key <key>", "API key (default: ACONTEXT_API_KEY, else the login)");
}

/** Connects (starting the local server if it is the target) and runs `fn`; explains failures. */
export async function withApi<T>(flags: TargetFlags, notFoundHint: string, fn: (connection: Connection) => Promise<T>): Promise<T> {
  const { connect, explain } = await import("./connect.js");
  let connection: Connection | undefined;
  try {
    connection = await connect({ baseUrl: flags.baseUrl, apiKey: flags.apiKey });
    return await fn(connection);
  } catch (err) {
    throw explain(err, connection, notFoundHint);
  }
}
