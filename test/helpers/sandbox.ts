// Running a command in a local sandbox from a test, with its output collected.
import type { Readable } from "node:stream";
import type { SandboxBackend } from "../../src/sandbox/backend.js";

export async function execIn(
  backend: SandboxBackend,
  id: string,
  command: string,
  options: { stdin?: Readable; timeoutMs?: number; maxOutputBytes?: number } = {},
) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const result = await backend.exec(id, {
    command,
    ...options,
    onOutput: (stream, chunk) => {
      (stream === "stdout" ? out : err).push(chunk);
    },
  });
  return { ...result, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}
