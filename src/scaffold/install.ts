// `<pm> install` with its output streamed to stderr, under a spinner when stderr is a terminal.
import { CancelledError, CliError } from "../cli/errors.js";
import { sayPrefixed } from "../cli/output.js";
import { installCommand, type PackageManager } from "./package-manager.js";
import { forEachLine, LineTail } from "./processes.js";

export interface InstallOptions {
  pm: PackageManager;
  dir: string;
  /** How the folder is shown to the user. */
  display: string;
  env: NodeJS.ProcessEnv;
  prefix: string;
  signal: AbortSignal;
}

export async function installDependencies(options: InstallOptions): Promise<void> {
  const { execa } = await import("execa");
  const { command, args } = installCommand(options.pm);
  const title = `installing dependencies in ${options.display} (${[command, ...args].join(" ")})`;
  const spinner = process.stderr.isTTY
    ? (await import("ora")).default({ text: title, stream: process.stderr }).start()
    : undefined;
  if (!spinner) process.stderr.write(`${title}\n`);

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
    // Lines scroll above the spinner, which stays on the last row.
    spinner?.clear();
    sayPrefixed(options.prefix, line);
    spinner?.render();
  };
  await Promise.all([forEachLine(child.stdout, onLine), forEachLine(child.stderr, onLine)]);
  const result = await child;

  if (result.isCanceled) {
    spinner?.stop();
    throw new CancelledError(options.signal.reason);
  }
  if (result.exitCode !== 0) {
    spinner?.fail();
    const how = result.exitCode === undefined ? `could not run: ${result.shortMessage}` : `exited with code ${result.exitCode}`;
    throw new CliError(`${[command, ...args].join(" ")} ${how}${tail.format("; its last output:")}`, {
      hint: `fix the problem above, then run the command again (or run \`${command} install\` in ${options.display} yourself)`,
    });
  }
  spinner?.succeed(`installed dependencies in ${options.display}`);
}
