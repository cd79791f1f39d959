import { Command } from "commander";
import { UsageError } from "../../shared/errors.js";
import { addTargetOptions, withApi } from "../api.js";
import { parseDurationFlag } from "../flags.js";
import { say } from "../output.js";
import { addExecOptions, asCliFailure, commandAfterOptions, execInSandbox, ttyNeeded } from "./sandbox-exec.js";

export interface RunFlags {
  rm?: boolean;
  keepalive?: number;
  network?: boolean;
  env?: string[];
  workdir?: string;
  timeout?: number;
  stdin?: boolean;
  tty?: boolean;
  baseUrl?: string;
  apiKey?: string;
}

export function sandboxRunCommand(): Command {
  return addExecOptions(
    addTargetOptions(new Command("run"))
      .description("create a sandbox and run a command in it (--rm: kill it afterwards, even after Ctrl-C)")
      .argument("<command...>", "after --: as for sandbox exec")
      .option("--rm", "kill the sandbox when the command ends")
      .option("--keepalive <duration>", "idle time before the sandbox is killed, e.g. 10m", parseDurationFlag)
      .option("--network", "allow outbound network (where the API supports it)"),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  $ acontext sandbox run --rm -- python3 -c 'print(1+1)'\n  $ acontext sandbox run -- 'pip list | head'   # prints the sandbox id on stderr",
    )
    .action(async (args: string[], _flags: RunFlags, cmd: Command) => {
      const command = commandAfterOptions(cmd, args);
      process.exitCode = await runInNewSandbox(command, cmd.opts<RunFlags>());
    });
}

/** Creates a sandbox and runs `command` in it; with `rm`, kills it afterwards (also after Ctrl-C). */
export async function runInNewSandbox(command: string[], flags: RunFlags): Promise<number> {
  // Refused before anything is created, so no sandbox is left behind by a usage mistake.
  if (!command.length) throw new UsageError("no command to run", "acontext sandbox run [--rm] -- CMD…");
  if (flags.tty && !process.stdin.isTTY) throw ttyNeeded();
  const created = await withApi(flags, "acontext sandbox ls -a", ({ client }) =>
    client.createSandbox({
      ...(flags.keepalive ? { keepalive_seconds: Math.ceil(flags.keepalive) } : {}),
      ...(flags.network ? { network: true } : {}),
    }),
  ).catch((err: unknown) => {
    throw asCliFailure(err);
  });
  const id = created.sandbox_id;
  for (const warning of created.warnings ?? []) say(`warning: ${warning}`);
  if (!flags.rm) say(`sandbox ${id}`);
  try {
    return await execInSandbox(id, command, flags);
  } finally {
    if (flags.rm) {
      await withApi(flags, "acontext sandbox ls", ({ client }) => client.killSandbox(id)).catch((err: Error) =>
        say(`could not kill sandbox ${id}: ${err.message}`),
      );
    }
  }
}
