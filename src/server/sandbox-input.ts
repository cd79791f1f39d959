// What may cross into a sandbox, and what a sandbox may report back: pure checks, each a 400
// (ApiError) naming the bad value. Whatever enters a sandbox travels in NUL-separated frames and
// ends in execve(2), so NUL is refused everywhere and sizes stay within the kernel's: one
// argument or environment string at most MAX_ARG_STRLEN (128 KiB, its NUL included).
import { ApiError } from "./http.js";

export const MAX_COMMAND_BYTES = 128 * 1024 - 1;
export const MAX_ENV_ENTRY_BYTES = 128 * 1024 - 1;
export const MAX_ENV_ENTRIES = 1024;
/** Command, working directory and environment together: within the agent's 1 MiB frame and execve's total. */
export const MAX_EXEC_BYTES = 1_000_000;
/** PATH_MAX (4096) less its NUL. */
export const MAX_PATH_BYTES = 4095;
/** NAME_MAX. */
export const MAX_NAME_BYTES = 255;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function bad(detail: string): ApiError {
  return new ApiError(400, "parameter error", detail);
}

/** The string as JSON, cut short: names a hostile value in an error without flooding it. */
export function quoted(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/** A command with its working directory and environment, as an exec takes them. */
export function checkExecInput(input: { command: string; cwd?: string; env?: Record<string, string> }): void {
  const commandBytes = Buffer.byteLength(input.command);
  if (input.command.includes("\0")) throw bad("command contains a NUL byte");
  if (commandBytes > MAX_COMMAND_BYTES)
    throw bad(`command is ${commandBytes} bytes; at most ${MAX_COMMAND_BYTES} (the kernel's limit for one argument): put a long script in a file`);
  let total = commandBytes;
  if (input.cwd !== undefined) total += checkSandboxPath(input.cwd, "cwd");
  const entries = Object.entries(input.env ?? {});
  if (entries.length > MAX_ENV_ENTRIES) throw bad(`env has ${entries.length} variables; at most ${MAX_ENV_ENTRIES}`);
  for (const [name, value] of entries) {
    if (!ENV_NAME.test(name)) throw bad(`env name ${quoted(name)} is not a NAME (letters, digits, _)`);
    if (value.includes("\0")) throw bad(`env ${name} contains a NUL byte`);
    const bytes = Buffer.byteLength(name) + 1 + Buffer.byteLength(value);
    if (bytes > MAX_ENV_ENTRY_BYTES) throw bad(`env ${name} is ${bytes} bytes; at most ${MAX_ENV_ENTRY_BYTES}`);
    total += bytes;
  }
  if (total > MAX_EXEC_BYTES) throw bad(`command, cwd and env are ${total} bytes together; at most ${MAX_EXEC_BYTES}`);
}

/** An absolute path inside a sandbox; returns its length in bytes. */
export function checkSandboxPath(path: string, field: string): number {
  const bytes = Buffer.byteLength(path);
  if (path.includes("\0")) throw bad(`${field} contains a NUL byte`);
  if (!path.startsWith("/")) throw bad(`${field} must be an absolute path, got ${quoted(path)}`);
  if (bytes > MAX_PATH_BYTES) throw bad(`${field} is ${bytes} bytes; at most ${MAX_PATH_BYTES}`);
  return bytes;
}

/**
 * A path a sandbox reported under a folder, relative to it: valid UTF-8, no empty, "." or ".."
 * segment, not absolute, no control characters, within the kernel's name and path lengths.
 * Returns it as text; anything else is refused (a sandbox controls its names, and its listing).
 */
export function checkReportedPath(raw: Buffer): string {
  let path: string;
  try {
    path = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    throw bad(`the sandbox reported a file name that is not UTF-8: ${quoted(raw.toString("latin1"))}`);
  }
  const refuse = (why: string) => bad(`the sandbox reported an unacceptable path ${quoted(path)}: ${why}`);
  if (raw.length === 0) throw refuse("empty");
  if (raw.length > MAX_PATH_BYTES) throw refuse(`longer than ${MAX_PATH_BYTES} bytes`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(path)) throw refuse("control characters");
  if (path.startsWith("/")) throw refuse("absolute");
  for (const segment of path.split("/")) {
    if (segment === "" || segment === "." || segment === "..") throw refuse(`a ${JSON.stringify(segment)} segment`);
    if (Buffer.byteLength(segment) > MAX_NAME_BYTES) throw refuse(`a name longer than ${MAX_NAME_BYTES} bytes`);
  }
  return path;
}
