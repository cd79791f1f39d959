// bash_execution_sandbox and export_file_sandbox, with upstream's arguments and answers. The
// editor is text-editor.ts. Output is captured up to what the answer can hold (upstream cuts each
// stream at 20,000 characters and says so), never more, however much a command prints.
import type { AcontextClient, ExecRequest } from "../client/client.js";
import { type Args, asFolder, MAX_OUTPUT_CHARS, requiredString, ToolError, truncate } from "./args.js";
import type { Session } from "./session.js";

/** A tool's answer: text for the model, an error flag, and a note (a replaced sandbox). */
export interface ToolOutcome {
  text: string;
  isError?: boolean;
  note?: string;
}

/** Where exported files go on the disk, as upstream. */
export const EXPORT_FOLDER = "/artifacts/";

export async function bashTool(session: Session, args: Args, signal: AbortSignal): Promise<ToolOutcome> {
  const command = requiredString(args, "command");
  const timeout = args.timeout ?? undefined;
  if (timeout !== undefined && (typeof timeout !== "number" || !(timeout > 0)))
    throw new ToolError(`timeout must be a positive number of seconds, got ${JSON.stringify(timeout)}`);
  const { value, note } = await session.withSandbox((id) => runCommand(session.client, id, command, { timeoutSeconds: timeout, signal }));
  const text = JSON.stringify({
    stdout: truncate(value.stdout, value.stdoutCut),
    stderr: truncate(value.stderr, value.stderrCut),
    exit_code: value.exitCode,
  });
  // A non-zero exit is data for the model, not a failure of the tool.
  return { text, note };
}

export async function exportTool(session: Session, args: Args): Promise<ToolOutcome> {
  const sandboxPath = requiredString(args, "sandbox_path");
  const filename = requiredString(args, "sandbox_filename");
  if (filename.includes("/")) throw new ToolError("sandbox_filename must be a file name, without '/': put its folder in sandbox_path");
  const diskId = await session.diskId();
  const { value: artifact, note } = await session.withSandbox((id) =>
    session.client.uploadFromSandbox(diskId, { sandbox_id: id, sandbox_path: asFolder(sandboxPath), sandbox_filename: filename, file_path: EXPORT_FOLDER }),
  );
  const diskPath = artifact.path + artifact.filename;
  const { public_url } = await session.client.getArtifact(diskId, diskPath, { withPublicUrl: true });
  return {
    // Upstream's two fields, then where the file is (ours: `disk_id`, `disk_path`).
    text: JSON.stringify({ message: "successfully exported file to disk", public_url: public_url ?? null, disk_id: diskId, disk_path: diskPath }),
    note,
  };
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  stdoutCut: boolean;
  stderrCut: boolean;
}

/**
 * Runs a command in a sandbox and captures at most `limit` bytes of each stream (by default what
 * 20,000 characters can take). Our API stops the command at `timeoutSeconds` itself (exit code
 * 124); an upstream one cannot, so the wait stops here, as upstream's SDK does.
 */
export async function runCommand(
  client: AcontextClient,
  sandboxId: string,
  command: string,
  options: { timeoutSeconds?: number; signal?: AbortSignal; limit?: number; cwd?: string } = {},
): Promise<CommandResult> {
  const limit = options.limit ?? MAX_OUTPUT_CHARS * 4;
  const out = new Capture(limit);
  const err = new Capture(limit);
  const spec: ExecRequest = { command, ...(options.cwd ? { cwd: options.cwd } : {}) };
  const controller = new AbortController();
  const stop = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", stop, { once: true });
  if (options.signal?.aborted) stop();
  let timer: NodeJS.Timeout | undefined;
  const ours = await client.supports("exec-options");
  if (options.timeoutSeconds !== undefined) {
    if (ours) spec.timeout = Math.max(1, Math.ceil(options.timeoutSeconds));
    else timer = setTimeout(() => controller.abort("timeout"), options.timeoutSeconds * 1000);
  }
  if (!ours && spec.cwd) {
    spec.command = `cd -- '${spec.cwd.replace(/'/g, `'\\''`)}' && ${spec.command}`;
    delete spec.cwd;
  }
  try {
    const exitCode = await client.exec(sandboxId, spec, {
      signal: controller.signal,
      onOutput: (stream, chunk) => (stream === "stdout" ? out : err).add(chunk),
    });
    return { exitCode, stdout: out.text(), stderr: err.text(), stdoutCut: out.cut, stderrCut: err.cut };
  } catch (error) {
    if (controller.signal.reason === "timeout") {
      throw new ToolError(
        `the command did not finish within ${options.timeoutSeconds} s; this API cannot stop a command, so it may still be running in the sandbox`,
      );
    }
    if (controller.signal.aborted) throw new ToolError("cancelled: the command was stopped");
    throw error;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", stop);
  }
}

/** The first `limit` bytes of a stream, and whether more came. */
export class Capture {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  cut = false;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    const room = this.limit - this.bytes;
    if (chunk.length > room) this.cut = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.bytes += kept.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}
