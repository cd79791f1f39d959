import { readFileSync } from "node:fs";
import { Command } from "commander";
import { completionCommand } from "./commands/completion.js";
import { diskCpCommand } from "./commands/disk-cp.js";
import { diskCreateCommand } from "./commands/disk-create.js";
import { diskGlobCommand, diskGrepCommand } from "./commands/disk-find.js";
import { diskLsCommand } from "./commands/disk-ls.js";
import { diskRmCommand } from "./commands/disk-rm.js";
import { loginCommand, logoutCommand } from "./commands/login.js";
import { sandboxCreateCommand } from "./commands/sandbox-create.js";
import { sandboxExecCommand } from "./commands/sandbox-exec.js";
import { sandboxGetCommand } from "./commands/sandbox-get.js";
import { sandboxKillCommand } from "./commands/sandbox-kill.js";
import { sandboxLsCommand } from "./commands/sandbox-ls.js";
import { sandboxRunCommand } from "./commands/sandbox-run.js";
import { sandboxShellCommand } from "./commands/sandbox-shell.js";
import { sandboxStartCommand } from "./commands/sandbox-start.js";
import { whoamiCommand } from "./commands/whoami.js";
import { serverStartCommand } from "./commands/server-start.js";
import { serverStatusCommand } from "./commands/server-status.js";
import { serverStopCommand } from "./commands/server-stop.js";

const { version } = JSON.parse(
  readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
) as { version: string };

/**
 * Builds the whole command tree. Command files only declare flags; their implementations are
 * imported inside the actions, so `acontext --help` loads nothing but commander.
 */
export function buildProgram(): Command {
  const program = new Command("acontext")
    .description("Sandboxes and disks for AI agents: the Acontext developer CLI")
    .version(version, "-v, --version")
    .enablePositionalOptions();

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

  program.addCommand(loginCommand()).addCommand(logoutCommand()).addCommand(whoamiCommand()).addCommand(completionCommand());

  applyToTree(program, (cmd) => {
    // Throw instead of exiting, so the one error boundary in main() decides the exit code.
    cmd.exitOverride();
    if (cmd !== program) cmd.showHelpAfterError(`hint: see '${fullName(cmd)} --help'`);
  });
  return program;
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
