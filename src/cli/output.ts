// Terminal output helpers. Results go to stdout; everything else (progress, logs, hints) to stderr.
// Colours use node:util styleText (Node >= 20.12) instead of chalk: it costs nothing at start-up.
import { styleText } from "node:util";

type Style = "red" | "yellow" | "green" | "cyan" | "magenta" | "blue" | "dim" | "bold";

/** Whether to colour text written to `stream`: NO_COLOR wins, then FORCE_COLOR, then a TTY. */
export function colorEnabled(stream: { isTTY?: boolean } = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false";
  if (env.TERM === "dumb") return false;
  return Boolean(stream.isTTY);
}

/** Styles text meant for stderr (where all decorated output goes). */
export function style(name: Style, text: string): string {
  return colorEnabled(process.stderr) ? styleText(name, text) : text;
}

/** A line of chatter on stderr. */
export function say(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** A line of a child process's output on stderr, behind a label like `[cloudflare]`. */
export function sayPrefixed(prefix: string, line: string): void {
  process.stderr.write(line ? `${prefix} ${line}\n` : `${prefix}\n`);
}

/** A result on stdout. */
export function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** An event of a long-running command as one JSON line on stdout (NDJSON). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** A JSON result on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** True when DEBUG names acontext (`DEBUG=acontext`, `DEBUG=acontext:*`, `DEBUG=*`). */
export function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.DEBUG ?? "").split(/[\s,]+/).some((name) => name === "*" || name === "acontext" || name.startsWith("acontext:"));
}

/** Detail for DEBUG=acontext, on stderr. */
export function debug(message: string): void {
  if (debugEnabled()) say(style("dim", `debug: ${message}`));
}

/**
 * Whether the CLI may ask questions: stdin and stderr (where prompts are drawn) are terminals
 * and this is not CI. Without it, a missing choice is an error that names the flag.
 */
export function isInteractive(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.CI && env.CI !== "0" && env.CI !== "false") return false;
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}
