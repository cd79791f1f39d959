// Parsers for human-friendly flag values. Pure, table-tested.

const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** `"1GiB"`, `"16MB"`, `"512k"`, `"1048576"` → bytes; undefined if it is not a size. */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) return undefined;
  const unit = SIZE_UNITS[match[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Math.round(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Bytes as a short human string: 1073741824 → "1 GiB". */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { "": 1, s: 1, m: 60, h: 3600, d: 86400 };

/** `"30s"`, `"10m"`, `"1h30m"`, `"90"` → seconds; undefined if it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?[smhd]?)+$/i.test(trimmed)) return undefined;
  let seconds = 0;
  for (const [, value, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)([smhd]?)/gi)) {
    seconds += Number(value) * DURATION_UNITS[unit!.toLowerCase()]!;
  }
  return seconds > 0 ? seconds : undefined;
}

/**
 * The command line to run remotely: one argument is a shell snippet as written (`"ls | wc -l"`);
 * several are words, each quoted so the remote shell sees exactly them.
 */
export function commandFromArgv(argv: string[]): string {
  if (argv.length === 1) return argv[0]!;
  return argv.map(shellQuote).join(" ");
}

export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
