// `<pm> install`, its output handed on line by line (the CLI shows it under a spinner on a terminal).
import { CancelledError, ExpectedError } from "../shared/errors.js";
import { forEachLine, LineTail } from "../shared/processes.js";
import { installCommand, type PackageManager } from "./package-manager.js";

export interface InstallOptions {
  pm: PackageManager;
  dir: string;
  /** How the folder is shown to the user. */
  display: string;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  /** Each line of the install's output, as it comes. */
  onLine: (line: string) => void;
}

export async function installDependencies(options: InstallOptions): Promise<void> {
  const { execa } = await import("execa");
  const { command, args } = installCommand(options.pm);
  const child = execa(command, args, {
    cwd: options.dir,
    env: options.env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    buffer: false,
    reject: false,
    cancelSignal: options.signal,
  });
  const tail = new LineTail(15);
  const onLine = (line: string) => {
    tail.push(line);
    options.onLine(line);
  };
  await Promise.all([forEachLine(child.stdout, onLine), forEachLine(child.stderr, onLine)]);
  const result = await child;

  if (result.isCanceled) throw new CancelledError(options.signal.reason);
  if (result.exitCode !== 0) {
    const how = result.exitCode === undefined ? `could not run: ${result.shortMessage}` : `exited with code ${result.exitCode}`;
    throw new ExpectedError(`${[command, ...args].join(" ")} ${how}${tail.format("; its last output:")}`, {
      hint: `fix the problem above, then run the command again (or run \`${command} install\` in ${options.display} yourself)`,
    });
  }
}
