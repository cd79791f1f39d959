// Every skipped test says why (issue 14): a skip goes through needs() (test/helpers/requirements.ts),
// whose title carries the reason into the summary. A bare skip, only or todo fails here.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? testFiles(path) : name.endsWith(".test.ts") ? [path] : [];
  });
}

/** Past the balanced parentheses that open at `at`. */
function pastParens(text: string, at: number): number {
  let depth = 0;
  for (let i = at; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) return i + 1;
  }
  return text.length;
}

/** The first argument of the call that follows a skipIf and its condition (and an optional each table): the title. */
function titleAfterSkipIf(text: string, open: number): string {
  let at = pastParens(text, open);
  if (text.startsWith(".each(", at)) at = pastParens(text, at + ".each".length);
  if (text[at] !== "(") return "";
  let depth = 0;
  for (let i = at + 1; i < text.length; i++) {
    const char = text[i]!;
    if ("([{".includes(char)) depth++;
    else if (")]}".includes(char)) depth--;
    if ((char === "," && depth === 0) || depth < 0) return text.slice(at + 1, i);
  }
  return "";
}

describe("skips", () => {
  it("every skipIf is titled by needs(), and there is no bare skip, only or todo", () => {
    const unexplained: string[] = [];
    for (const file of testFiles(join(ROOT, "test"))) {
      const text = readFileSync(file, "utf8");
      const where = (index: number) => `${relative(ROOT, file)}:${text.slice(0, index).split("\n").length}`;
      for (const match of text.matchAll(/\.skipIf\(/g)) {
        const title = titleAfterSkipIf(text, match.index + match[0].length - 1);
        if (!/\.title\b/.test(title) && !/needs\(/.test(title)) unexplained.push(`${where(match.index)}: ${text.slice(match.index).split("\n")[0]}`);
      }
      for (const match of text.matchAll(/\b(it|test|describe)\.(skip|only|todo)\(/g)) unexplained.push(`${where(match.index)}: ${match[0]}`);
    }
    expect(unexplained).toEqual([]);
  });
});
