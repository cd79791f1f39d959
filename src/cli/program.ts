import { readFileSync } from "node:fs";
import { Command } from "commander";
import { UsageError } from "../shared/errors.js";
import { completionCommand } from "./commands/completion.js";
import { diskCpCommand } from "./commands/disk-cp.js";
import { diskCreateCommand } from "./commands/disk-create.js";
import { diskGlobCommand, diskGrepCommand } from "./commands/disk-find.js";
import { diskLsCommand } from "./commands/disk-ls.js";
import { diskRmCommand } from "./commands/disk-rm.js";
import { loginCommand, logoutCommand } from "./commands/login.js";
import { mcpCommand } from "./commands/mcp.js";
import { sandboxCreateCommand } from "./commands/sandbox-create.js";
import { sandboxExecCommand } from "./commands/sandbox-exec.js";
import { sandboxGetCommand } from "./commands/sandbox-get.js";
import { sandboxKillCommand } from "./commands/sandbox-kill.js";
import { sandboxLsCommand } from "./commands/sandbox-ls.js";
import { sandboxRunCommand } from "./commands/sandbox-run.js";
import { sandboxShellCommand } from "./commands/sandbox-shell.js";
import { sandboxStartCommand } from "./commands/sandbox-start.js";
import { serverStartCommand } from "./commands/server-start.js";
import { serverStatusCommand } from "./commands/server-status.js";
import { serverStopCommand } from "./commands/server-stop.js";
import { whoamiCommand } from "./commands/whoami.js";

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

/**
 * Builds the whole command tree. Command files only declare flags; their implementations are
 * imported inside the actions, so `acontext --help` loads nothing but commander.
 */
export function buildProgram(): Command {
  const program = new Command("acontext")
    .description("Sandboxes and disks for AI agents: the Acontext developer CLI")
    .version(version, "-v, --version")
    .enablePositionalOptions()
    .helpCommand(false);
  // Options a user may put before the subcommand too (`acontext --json sandbox ls`); each goes to
  // the command that runs, which must have it.
  for (const [flags, description] of GLOBAL_OPTIONS) program.option(flags, description);
  program.hook("preAction", (_program, command) => passGlobalOptions(program, command));

  program
    .command("sandbox")
    .description("sandboxes: create, run commands, kill; start a sandbox backend project")
    .addCommand(sandboxStartCommand())
    .addCommand(sandboxCreateCommand())
    .addCommand(sandboxLsCommand())
    .addCommand(sandboxGetCommand())
    .addCommand(sandboxExecCommand())
    .addCommand(sandboxRunCommand())
    .addCommand(sandboxShellCommand())
    .addCommand(sandboxKillCommand());

  program
    .command("disk")
    .description("persistent file storage: create disks, list, copy and delete files")
    .addCommand(diskCreateCommand())
    .addCommand(diskLsCommand())
    .addCommand(diskCpCommand())
    .addCommand(diskRmCommand())
    .addCommand(diskGlobCommand())
    .addCommand(diskGrepCommand());

  program
    .command("server")
    .description("run the embedded Acontext API (sandboxes, disks, artifacts) on this machine")
    .addCommand(serverStartCommand(version))
    .addCommand(serverStopCommand())
    .addCommand(serverStatusCommand());

  program.addCommand(mcpCommand(version));

  program.addCommand(loginCommand()).addCommand(logoutCommand()).addCommand(whoamiCommand()).addCommand(completionCommand());

  // `acontext help sandbox exec` shows that command's help (commander's own stops at one level).
  program
    .command("help")
    .description("show the help of a command, e.g. acontext help sandbox exec")
    .argument("[command...]", "the command's words")
    .action((words: string[]) => {
      let found: Command = program;
      for (const word of words) {
        const sub = found.commands.find((c) => c.name() === word || c.aliases().includes(word));
        if (!sub) throw new UsageError(`unknown command '${fullName(found)} ${word}'`, `see '${fullName(found)} --help'`);
        found = sub;
      }
      process.stdout.write(found.helpInformation());
    });

  applyToTree(program, (cmd) => {
    // Throw instead of exiting, so the one error boundary in main() decides the exit code.
    cmd.exitOverride();
    cmd.showHelpAfterError(`hint: see '${fullName(cmd)} --help'`);
  });
  return program;
}

const GLOBAL_OPTIONS = [
  ["--json", "print JSON (on commands that print data)"],
  ["--base-url <url>", "Acontext API to use (commands that call one)"],
  ["--api-key <key>", "API key (commands that call an API)"],
] as const;

/** Global options given before the subcommand, handed to the command that runs (which must take them). */
function passGlobalOptions(program: Command, command: Command): void {
  if (command === program) return;
  for (const option of program.options) {
    const name = option.attributeName();
    if (program.getOptionValueSource(name) !== "cli") continue;
    const own = command.options.find((o) => o.attributeName() === name);
    if (!own) throw new UsageError(`${option.long} does not apply to '${fullName(command)}'`, `see '${fullName(command)} --help'`);
    if (command.getOptionValueSource(name) !== "cli") command.setOptionValueWithSource(name, program.getOptionValue(name), "cli");
  }
}

function applyToTree(cmd: Command, fn: (cmd: Command) => void): void {
  fn(cmd);
  for (const sub of cmd.commands) applyToTree(sub, fn);
}

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}
