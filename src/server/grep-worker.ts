// grep's worker thread (see grep.ts): tests a regular expression against text files, one file in
// memory at a time, and posts back which matched. The server terminates it at grep's deadline.
import { readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import type { GrepJob, GrepResult } from "./grep.js";

const { source, flags, files, limit } = workerData as GrepJob;
const pattern = new RegExp(source, flags);
const matches: number[] = [];
let result: GrepResult;
try {
  for (let i = 0; i < files.length && matches.length < limit; i++) {
    const text = readText(files[i]!);
    if (text !== undefined && pattern.test(text)) matches.push(i);
  }
  result = { matches };
} catch (err) {
  // V8 gives up on a match whose backtracking outgrows its stack.
  result = { error: (err as Error).message };
}
parentPort!.postMessage(result);

/** A file's text; undefined for one deleted since it was listed. */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
