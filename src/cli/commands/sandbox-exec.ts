import { Command } from "commander";
import { CancelledError, ExpectedError, UsageError } from "../../shared/errors.js";
import { addTargetOptions, withApi } from "../api.js";
import { collectEnv, parseDurationFlag } from "../flags.js";

interface Flags {
  env?: string[];
  workdir?: string;
  timeout?: number;
  stdin?: boolean;
  tty?: boolean;
  baseUrl?: string;
  apiKey?: string;
}

/** Exit code for a failure of the CLI or the API, as docker's: apart from the command's own codes. */
export const EXIT_CLI_FAILED = 125;

export function sandboxExecCommand(): Command {
  return addExecOptions(
    addTargetOptions(new Command("exec"))
      .description("run a command in a sandbox; its output streams here and its exit code is ours")
      .argument("<id>", "sandbox id")
      .argument("<command...>", "after --: one argument is a shell snippet, several are words quoted as given"),
  )
    .addHelpText(
      "after",
      `
Exit codes: the command's own; 124 when --timeout killed it; 125 when the CLI or the API failed;
2 for bad usage; 130 after Ctrl-C (which kills the remote command).

Examples:
  $ acontext sandbox exec $SANDBOX -- python3 -c 'print(sum(range(10)))'
  $ acontext sandbox exec $SANDBOX -- 'ls -la | wc -l'
  $ cat big.csv | acontext sandbox exec $SANDBOX -- wc -l
  $ acontext sandbox exec -t $SANDBOX -- bash          # an interactive shell
  $ acontext sandbox exec -e DEBUG=1 -w /tmp --timeout 30s $SANDBOX -- make test`,
    )
    .action(async (id: string, args: string[], _flags: Flags, cmd: Command) => {
      const command = commandAfterOptions(cmd, args);
      process.exitCode = await execInSandbox(id, command, cmd.opts<Flags>());
    });
}

/**
 * The remote command in what follows the sandbox id (or `run`'s options): options before `--`
 * are ours wherever they stand (`exec ID --timeout 1s -- sleep 5`); the command starts after `--`,
 * or at the first word that is not one of our options (`exec ID ls -la`).
 */
export function commandAfterOptions(cmd: Command, args: string[]): string[] {
  const { operands, unknown } = cmd.parseOptions(args);
  if (unknown.length) cmd.error(`error: unknown option '${unknown[0]}'`, { exitCode: 2, code: "commander.unknownOption" });
  return operands;
}

/** The options `exec` and `run` share; everything from the command on goes to the command. */
export function addExecOptions(command: Command): Command {
  return addEnvOptions(command)
    .option("--timeout <duration>", "kill the command after this long (exit 124), e.g. 30s", parseDurationFlag)
    .option("--stdin", "on an API that cannot stream stdin, read piped stdin to its end and send it first")
    .option("-t, --tty", "run on a terminal, interactively (shells, REPLs, editors): keys and window size go to it")
    .passThroughOptions();
}

/** -e and -w: the command's environment and working directory (exec, run, shell). */
export function addEnvOptions(command: Command): Command {
  return command
    .option("-e, --env <NAME=value>", "set an environment variable (repeatable)", collectEnv)
    .option("-w, --workdir <dir>", "working directory (default /workspace)");
}

/** Runs `command` in sandbox `id` through the API; CLI and API failures exit 125. */
export async function execInSandbox(id: string, command: string[], flags: Flags): Promise<number> {
  if (!command.length) throw new UsageError("no command to run", "acontext sandbox exec ID -- CMD…");
  if (flags.tty && !process.stdin.isTTY) throw ttyNeeded();
  try {
    return await withApi(flags, "list sandboxes: acontext sandbox ls -a", async ({ client }) => {
      const { runRemote } = await import("../remote-exec.js");
      return runRemote(client, id, command, {
        env: flags.env,
        workdir: flags.workdir,
        timeout: flags.timeout ? Math.ceil(flags.timeout) : undefined,
        stdin: flags.stdin,
        tty: flags.tty,
      });
    });
  } catch (err) {
    throw asCliFailure(err);
  }
}

/** `-t` without a terminal on stdin: a usage error, raised before anything is created or run. */
export function ttyNeeded(): UsageError {
  return new UsageError("--tty needs a terminal, and stdin is not one", "drop -t: output still streams, and piped input goes to the command");
}

/** A failure of the CLI or the API gets exit code 125, apart from any code the command can return. */
export function asCliFailure(err: unknown): unknown {
  if (err instanceof ExpectedError && !(err instanceof CancelledError) && err.exitCode === 1) {
    return new ExpectedError(err.message, { hint: err.hint, exitCode: EXIT_CLI_FAILED, cause: err.cause });
  }
  return err;
}
