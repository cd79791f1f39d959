// The layers of src/ import only downwards (docs/architecture.md): a file that imports across a
// forbidden line, or a source file grown past 500 lines, fails here.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

const SRC = join(ROOT, "src");

/** Each layer and the layers it may import from (its own is always allowed). */
const ALLOWED: Record<string, string[]> = {
  cli: ["mcp", "transfer", "scaffold", "client", "server", "protocol", "shared"],
  mcp: ["client", "transfer", "protocol", "shared"],
  transfer: ["client", "protocol", "shared"],
  scaffold: ["shared"],
  client: ["protocol", "shared"],
  server: ["sandbox", "protocol", "shared"],
  sandbox: ["protocol", "shared"],
  protocol: ["shared"],
  shared: [],
};

/** The CLI starts, stops and asks about the server; it does not reach into its routes or store. */
const SERVER_ENTRY_POINTS = ["server/server.ts", "server/info.ts", "server/backends.ts"];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.(ts|pl)$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Relative imports of a file (static, dynamic and type-only), as paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((match) => match[1]!);
  return found.map((spec) => relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, ".ts"));
}

const layerOf = (path: string) => path.split("/")[0]!;

/** Whether `from` importing `target` (paths under src/) crosses a forbidden line. */
function crosses(from: string, target: string): boolean {
  const [source, destination] = [layerOf(from), layerOf(target)];
  if (source === destination) return false;
  if (source === "cli" && destination === "server") return !SERVER_ENTRY_POINTS.includes(target);
  return !ALLOWED[source]!.includes(destination);
}

describe("layers", () => {
  const files = sourceFiles(SRC);

  it("every folder of src/ is a known layer", () => {
    expect(new Set(files.map((file) => layerOf(relative(SRC, file))))).toEqual(new Set(Object.keys(ALLOWED)));
  });

  it("imports only go down", () => {
    const crossings: string[] = [];
    for (const file of files.filter((name) => name.endsWith(".ts"))) {
      const from = relative(SRC, file);
      for (const target of importsOf(file)) if (crosses(from, target)) crossings.push(`${from} -> ${target}`);
    }
    expect(crossings).toEqual([]);
  });

  it.each([
    ["server/app.ts", "cli/output.ts", true],
    ["client/client.ts", "cli/errors.ts", true],
    ["sandbox/local/agent.ts", "client/frames.ts", true],
    ["shared/processes.ts", "protocol/frames.ts", true],
    ["cli/connect.ts", "server/store.ts", true],
    ["cli/server-control.ts", "server/server.ts", false],
    ["transfer/copy.ts", "client/client.ts", false],
    ["cli/commands/mcp.ts", "mcp/server.ts", false],
    ["mcp/server.ts", "cli/connect.ts", true],
    ["mcp/session.ts", "client/client.ts", false],
    ["server/sandboxes.ts", "sandbox/backend.ts", false],
  ])("%s importing %s crosses a line: %s", (from, target, expected) => {
    expect(crosses(from, target)).toBe(expected);
  });

  it("no source file is longer than 500 lines", () => {
    const long = files.map((file) => [relative(SRC, file), lineCount(readFileSync(file, "utf8"))] as const).filter(([, lines]) => lines > 500);
    expect(long).toEqual([]);
  });
});

/** Lines as `wc -l` counts them: a file's last newline ends its last line, it does not start one. */
function lineCount(text: string): number {
  return text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}
