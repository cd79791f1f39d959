import { Command } from "commander";
import { addTargetOptions } from "../api.js";
import { addEnvOptions, execInSandbox } from "./sandbox-exec.js";
import { runInNewSandbox } from "./sandbox-run.js";

interface Flags {
  env?: string[];
  workdir?: string;
  network?: boolean;
  baseUrl?: string;
  apiKey?: string;
}

/** bash where the sandbox has it, else sh; a login shell, so /etc/profile sets the prompt and PATH. */
const LOGIN_SHELL = "if command -v bash > /dev/null 2>&1; then exec bash -l; else exec sh -l; fi";

export function sandboxShellCommand(): Command {
  return addEnvOptions(
    addTargetOptions(new Command("shell"))
      .alias("connect")
      .description("an interactive shell in a sandbox; without an id, in a new sandbox that is killed when you leave")
      .argument("[id]", "sandbox id (default: a new, throwaway sandbox)")
      .option("--network", "the new sandbox gets outbound network (where the API supports it)"),
  )
    .addHelpText(
      "after",
      `
Leave with \`exit\` or Ctrl-D. Same as: acontext sandbox exec -t ID -- bash -l
Without a terminal, the shell reads its commands from stdin (a script), as docker exec -i does.

Examples:
  $ acontext sandbox shell $SANDBOX
  $ acontext sandbox shell --network           # a throwaway sandbox, killed when you leave
  $ echo 'uname -a; id' | acontext sandbox shell  # a script, in a throwaway sandbox`,
    )
    .action(async (id: string | undefined, flags: Flags) => {
      // On a terminal, an interactive shell; with input piped in, the shell runs it as a script
      // (as `docker exec -i`), sent whole where the API cannot stream stdin.
      const how = process.stdin.isTTY ? { tty: true } : { tty: false, stdin: true };
      if (id) {
        process.exitCode = await execInSandbox(id, [LOGIN_SHELL], { ...flags, ...how });
      } else {
        process.exitCode = await runInNewSandbox([LOGIN_SHELL], { ...flags, ...how, rm: true });
      }
    });
}
