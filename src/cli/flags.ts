// Parsers for flag values shared by commands; they throw commander's usage error (exit 2).
import { InvalidArgumentError } from "commander";
import { parseDuration, parseSize } from "../shared/units.js";

/** A TCP port to connect to or run a dev server on: 1–65535. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new InvalidArgumentError("a port is a whole number from 1 to 65535");
  }
  return port;
}

/** A port to listen on: 0 means any free port. */
export function parseListenPort(value: string): number {
  return value === "0" ? 0 : parsePort(value);
}

/** A count: 0 or more. */
export function parseCountFlag(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 1000) throw new InvalidArgumentError("a whole number from 0 to 1000");
  return Number(value);
}

/** A whole number from 1 up. */
export function parsePositiveFlag(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError("a whole number from 1 up");
  return Number(value);
}

/** A size like 1048576, 512MiB or 1GiB. */
export function parseSizeFlag(value: string): number {
  const bytes = parseSize(value);
  if (bytes === undefined || bytes < 1) throw new InvalidArgumentError("a size like 1048576, 512MiB or 1GiB");
  return bytes;
}

/** A duration like 30s, 10m or 1h (plain numbers are seconds); returns seconds. */
export function parseDurationFlag(value: string): number {
  const seconds = parseDuration(value);
  if (seconds === undefined) throw new InvalidArgumentError("a duration like 30s, 10m or 1h");
  return seconds;
}

/** Repeated -e NAME=value, collected. */
export function collectEnv(value: string, previous: string[] = []): string[] {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(value)) throw new InvalidArgumentError("NAME=value, with NAME of letters, digits and _");
  return [...previous, value];
}
