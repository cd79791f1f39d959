/** Exit codes the CLI itself uses (documented in the README). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** Ctrl-C (SIGINT): the shell convention 128 + 2. */
  interrupted: 130,
  /** SIGTERM: 128 + 15. */
  terminated: 143,
} as const;

/**
 * An expected problem, for any layer to throw: the CLI prints it as one line plus an optional
 * `hint:` line, never a stack, and exits with `exitCode`.
 */
export class ExpectedError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "ExpectedError";
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? EXIT.failure;
  }
}

/** Bad flags or arguments: exit code 2. */
export class UsageError extends ExpectedError {
  constructor(message: string, hint?: string) {
    super(message, { hint, exitCode: EXIT.usage });
    this.name = "UsageError";
  }
}

/** The user cancelled (Ctrl-C at a prompt, or a signal): not a crash. */
export class CancelledError extends ExpectedError {
  /** `signal`: the signal's name, as a trapped AbortSignal's `reason` holds it (default SIGINT). */
  constructor(signal: unknown = "SIGINT") {
    super("cancelled", { exitCode: signal === "SIGTERM" ? EXIT.terminated : EXIT.interrupted });
    this.name = "CancelledError";
  }
}
