// grep over artifacts. A client's regular expression runs in a worker thread with a deadline, so
// no pattern can hold up the event loop: nested quantifiers backtrack exponentially, and (a+)+$
// over "aaa…ab" once kept the whole server from answering for 12 s.
import { Worker } from "node:worker_threads";
import { ApiError } from "./http.js";

/** How long one grep may take, reading the files included. */
export const GREP_TIMEOUT_MS = 5000;
// A bundle of its own beside server.cjs (scripts/build.js); from source, the one the build made.
const WORKER = new URL("../../dist/cli/grep-worker.cjs", import.meta.url);

export interface GrepJob {
  source: string;
  flags: string;
  files: string[];
  limit: number;
}

export type GrepResult = { matches: number[] } | { error: string };

/** The indexes of the first `limit` files whose text matches. */
export function grepFiles(job: GrepJob): Promise<number[]> {
  if (job.files.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: job });
    const deadline = setTimeout(() => {
      void worker.terminate();
      const seconds = GREP_TIMEOUT_MS / 1000;
      reject(new ApiError(400, "grep took too long", `stopped after ${seconds} s; nested quantifiers such as (a+)+ can take exponential time`));
    }, GREP_TIMEOUT_MS);
    worker.once("message", (result: GrepResult) => {
      clearTimeout(deadline);
      if ("error" in result) reject(new ApiError(400, "regular expression failed", result.error));
      else resolve(result.matches);
    });
    worker.once("error", (err) => {
      clearTimeout(deadline);
      reject(err);
    });
  });
}
