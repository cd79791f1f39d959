// How a copy reports its bytes as they move; the CLI draws it (cli/progress.ts), or nothing.

export interface Progress {
  /** A new file of `total` bytes (unknown for stdin). */
  file(name: string, total?: number): void;
  add(bytes: number): void;
  /** The copy is over. */
  end(): void;
}
