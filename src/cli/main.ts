import { CommanderError } from "commander";
import { CancelledError, EXIT, ExpectedError } from "../shared/errors.js";
import { debugEnabled, say, style } from "./output.js";
import { buildProgram } from "./program.js";

// server.cjs and scaffold.cjs use these classes from here (see scripts/build.js).
export * from "../shared/errors.js";

/** Runs the CLI. The one error boundary: every failure ends here and sets `process.exitCode`. */
export async function main(argv: string[]): Promise<void> {
  // A reader that stops early (`acontext disk cp … - | head`) is not a failure: stop quietly, as cat does.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? EXIT.ok);
    throw err;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = report(err);
  }
}

/** Prints an error the way users should see it and returns the exit code. */
export function report(err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version end here too, with exit code 0; commander already printed its message.
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if ((err as NodeJS.ErrnoException)?.code === "EPIPE") return EXIT.ok; // see main()
  if (isPromptCancel(err)) err = new CancelledError();
  if (err instanceof CancelledError) {
    say(style("dim", "cancelled"));
    return err.exitCode;
  }
  if (err instanceof ExpectedError) {
    say(`${style("red", "error:")} ${err.message}`);
    if (err.hint) say(`${style("yellow", "hint:")} ${err.hint}`);
    if (debugEnabled() && err.cause) say(style("dim", String((err.cause as Error).stack ?? err.cause)));
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  say(`${style("red", "error:")} ${message}`);
  if (debugEnabled()) {
    say(style("dim", String((err as Error)?.stack ?? err)));
  } else {
    say(`${style("yellow", "hint:")} this looks like a bug; run again with DEBUG=acontext for details`);
  }
  return EXIT.failure;
}

/** @inquirer/prompts rejects with ExitPromptError when the user presses Ctrl-C at a prompt. */
function isPromptCancel(err: unknown): boolean {
  return err instanceof Error && (err.name === "ExitPromptError" || err.name === "AbortPromptError");
}
