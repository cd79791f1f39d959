// `disk cp`: looks up what the endpoints are, plans (plan.ts), then streams each file: local files
// and stdin up to disks, disk files down to local files or stdout. Downloads go to a temp file
// renamed into place, so an interrupted copy never leaves a partial file under the real name.
// A remote tree's listing is hostile until checked (safe-path.ts), and local writes never go
// through a symbolic link below the destination the user named.
// Sandbox files stream through exec where the API streams it (our extension); an upstream-shaped
// API, whose exec is buffered text without stdin, gets them through a temporary disk and its
// sandbox transfer routes instead.
import { once } from "node:events";
import { constants, createReadStream } from "node:fs";
import { lstat, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join as joinLocal, posix, relative } from "node:path";
import { PassThrough, type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type AcontextClient, APIError } from "../client/client.js";
import { ExpectedError } from "../shared/errors.js";
import { shellQuote } from "../shared/units.js";
import { listFiles } from "./list.js";
import { asDirectory, type Endpoint, formatEndpoint, join, type Kind, PlanError, parseEndpoint, planCopy, type Step, splitDiskPath } from "./plan.js";
import type { Progress } from "./progress.js";
import { NulTerminated, TreeListing } from "./safe-path.js";

/** Bytes of a sandbox command's stderr kept for its error message; the rest is dropped. */
const MAX_STDERR_BYTES = 64 * 1024;
/** Output a small script of ours may print (a word) before it is refused: a sandbox can replace the programs it runs. */
const MAX_SCRIPT_OUTPUT_BYTES = 64 * 1024;

export interface CopyOptions {
  recursive: boolean;
  force: boolean;
  progress: Progress;
  /** Each file as it is copied: where from and where to (paths as the user writes them). */
  onFile?: (from: string, to: string) => void;
  /** Where `-` reads from and writes to (process.stdin/stdout by default). */
  stdin?: Readable;
  stdout?: NodeJS.WritableStream;
}

export interface CopySummary {
  source: string | string[];
  destination: string;
  files: number;
  bytes: number;
}

export async function copy(client: AcontextClient, sourceTexts: string[], destinationText: string, options: CopyOptions): Promise<CopySummary> {
  let steps: Step[];
  try {
    const sources = sourceTexts.map(parseEndpoint);
    const destination = parseEndpoint(destinationText);
    const kinds = new Map<string, Kind>();
    for (const endpoint of [...sources, destination]) {
      if (endpoint.kind !== "stdio") kinds.set(formatEndpoint(endpoint), await kindOf(client, endpoint));
    }
    steps = planCopy(sources, destination, { recursive: options.recursive }, (e) => kinds.get(formatEndpoint(e)) ?? "missing");
  } catch (err) {
    throw asCliError(err);
  }

  const summary: CopySummary = {
    source: sourceTexts.length === 1 ? sourceTexts[0]! : sourceTexts,
    destination: destinationText,
    files: 0,
    bytes: 0,
  };
  const staging = new StagingDisk(client);
  try {
    for (const step of steps) {
      if (step.type === "tree") {
        const moved = await copyTreeServerSide(client, step.from, step.to);
        if (moved) {
          summary.files += moved.files;
          summary.bytes += moved.bytes;
          continue;
        }
      }
      // A tree's whole listing is checked before its first file is written.
      const relativePaths = step.type === "file" ? [""] : await listTree(client, step.from);
      for (const relativePath of relativePaths) {
        const file = { from: joinPath(step.from, relativePath), to: joinPath(step.to, relativePath), local: localTarget(step.to, relativePath) };
        summary.bytes += await copyFile(client, file, options, staging);
        summary.files++;
        options.onFile?.(formatEndpoint(file.from), file.local ? joinLocal(file.local.dir, ...file.local.names) : formatEndpoint(file.to));
      }
    }
  } catch (err) {
    throw asCliError(err);
  } finally {
    options.progress.end();
    await staging.remove();
  }
  return summary;
}

/** A PlanError (plan.ts and safe-path.ts are pure, without the CLI's types) as the CLI shows it. */
function asCliError(err: unknown): unknown {
  return err instanceof PlanError ? new ExpectedError(err.message, { hint: err.hint, exitCode: err.exitCode }) : err;
}

/** disk ↔ sandbox folders in one call, where the API can (extension "transfer-tree"). */
async function copyTreeServerSide(client: AcontextClient, from: Endpoint, to: Endpoint): Promise<{ files: number; bytes: number } | undefined> {
  if (from.kind === "disk" && to.kind === "sandbox" && (await client.supports("transfer-tree"))) {
    return client.downloadTreeToSandbox(from.diskId, { file_path: asDirectory(from.path), sandbox_id: to.sandboxId, sandbox_path: to.path });
  }
  if (from.kind === "sandbox" && to.kind === "disk" && (await client.supports("transfer-tree"))) {
    const artifacts = await client.uploadTreeFromSandbox(to.diskId, { sandbox_id: from.sandboxId, sandbox_path: from.path, file_path: asDirectory(to.path) });
    return { files: artifacts.length, bytes: artifacts.reduce((sum, artifact) => sum + (artifact.meta.__artifact_info__?.size ?? 0), 0) };
  }
  return undefined;
}

/**
 * A disk made for one copy, on an API that cannot stream sandbox files through exec: files go
 * sandbox → disk → here, and here → disk → sandbox, with the API's transfer routes. Each file gets
 * its own folder (the routes keep file names). Deleted, with its files, when the copy ends.
 */
export class StagingDisk {
  private id: Promise<string> | undefined;
  private files = 0;

  constructor(private readonly client: AcontextClient) {}

  private disk(): Promise<string> {
    this.id ??= this.client.createDisk().then((disk) => disk.id);
    return this.id;
  }

  /** Copies a sandbox file to the staging disk; returns where it is. */
  async fromSandbox(from: Endpoint & { kind: "sandbox" }): Promise<Endpoint & { kind: "disk" }> {
    const diskId = await this.disk();
    const { dir, filename } = splitDiskPath(from.path);
    const folder = `/${++this.files}/`;
    await this.client.uploadFromSandbox(diskId, { sandbox_id: from.sandboxId, sandbox_path: dir, sandbox_filename: filename, file_path: folder });
    return { kind: "disk", diskId, path: folder + filename };
  }

  /** Puts a stream on the staging disk under the target's name, then into the sandbox. */
  async toSandbox(source: Readable, size: number | undefined, to: Endpoint & { kind: "sandbox" }): Promise<void> {
    const diskId = await this.disk();
    const { dir, filename } = splitDiskPath(to.path);
    const folder = `/${++this.files}/`;
    await this.client.upload(diskId, folder, filename, source, size);
    const ok = await this.client.downloadToSandbox(diskId, { file_path: folder, filename, sandbox_id: to.sandboxId, sandbox_path: dir });
    if (!ok) throw new ExpectedError(`the API could not write ${formatEndpoint(to)}`);
  }

  /**
   * Stdin for an API whose exec takes none: put in the sandbox as a file, then read by the command
   * through the returned prefix, which also deletes it. Aborting `signal` stops the upload.
   */
  async stdinFile(sandboxId: string, stdin: Readable, size: number | undefined, signal: AbortSignal): Promise<string> {
    const path = `/tmp/.acontext-stdin-${process.pid}-${Date.now().toString(36)}`;
    const stop = () => stdin.destroy(new Error("cancelled"));
    signal.addEventListener("abort", stop, { once: true });
    try {
      await this.toSandbox(stdin, size, { kind: "sandbox", sandboxId, path });
    } finally {
      signal.removeEventListener("abort", stop);
    }
    // `exec <` makes the file the shell's stdin for the whole command; once open it can go.
    return `exec < ${shellQuote(path)} && rm -f -- ${shellQuote(path)}\n`;
  }

  async remove(): Promise<void> {
    if (!this.id) return;
    const id = await this.id.catch(() => undefined);
    if (id) await this.client.deleteDisk(id).catch(() => {});
  }
}

/** What an endpoint names: a file, a directory (on a disk: a prefix with content), or nothing. */
async function kindOf(client: AcontextClient, endpoint: Endpoint): Promise<Kind> {
  if (endpoint.kind === "local") {
    try {
      return (await stat(endpoint.path)).isDirectory() ? "dir" : "file";
    } catch {
      return "missing";
    }
  }
  if (endpoint.kind === "sandbox") return sandboxKind(client, endpoint.sandboxId, endpoint.path);
  if (endpoint.kind !== "disk") return "missing";
  const asDir = asDirectory(endpoint.path);
  if (!endpoint.path.endsWith("/")) {
    try {
      await client.getArtifact(endpoint.diskId, endpoint.path);
      return "file";
    } catch (err) {
      if (!(err instanceof APIError && err.status === 404 && err.message === "artifact not found")) throw err;
    }
  }
  const listing = await client.listDirectory(endpoint.diskId, asDir);
  return asDir === "/" || listing.artifacts.length || listing.directories.length ? "dir" : "missing";
}

/**
 * The files under a directory endpoint, as paths relative to it. A sandbox's or disk's listing is
 * hostile (the sandbox may have replaced its own `find`; the API may be anyone's) and is checked
 * whole, entry by entry as it arrives, before it is used.
 */
async function listTree(client: AcontextClient, from: Endpoint): Promise<string[]> {
  if (from.kind === "local") return (await walkLocal(from.path)).map((file) => relative(from.path, file).split("\\").join("/"));
  if (from.kind === "sandbox") {
    const listing = new TreeListing(formatEndpoint(from), "./");
    if (await client.supports("sandbox-files")) {
      // Listed by the API itself (bounded, names checked there too), not by a program of the sandbox.
      for (const file of await client.listSandboxFiles(from.sandboxId, from.path)) listing.add(`./${file.path}`);
      return listing.paths();
    }
    // Regular files under the folder, listed inside the sandbox (NUL-terminated: any file name),
    // each entry checked as it streams: an endless listing is refused, not held.
    const entries = new NulTerminated(formatEndpoint(from), "./");
    await runInSandbox(client, from.sandboxId, 'cd -- "$P" && find . -type f -print0', from.path, {
      onStdout: (chunk) => {
        for (const listed of entries.push(chunk)) listing.add(listed);
      },
    });
    for (const listed of entries.end()) listing.add(listed);
    return listing.paths();
  }
  if (from.kind === "disk") {
    const root = asDirectory(from.path);
    const listing = new TreeListing(formatEndpoint(from), root);
    await listFiles(client, formatEndpoint({ ...from, path: root }), true, (entry) => listing.add(entry.path, entry.type));
    return listing.paths();
  }
  return [];
}

function joinPath(base: Endpoint, rel: string): Endpoint {
  return rel.split("/").reduce((endpoint, part) => (part ? join(endpoint, part) : endpoint), base);
}

/** Regular files under a local folder; symbolic links are skipped (a disk has none). */
async function walkLocal(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = joinLocal(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walkLocal(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

/**
 * Where a local file goes: `names`, made one by one below `dir`. `dir` is what the user named (or
 * its parent, when the copy makes that folder), so it alone may be or hold a symbolic link.
 */
interface LocalTarget {
  dir: string;
  names: string[];
}

function localTarget(to: Endpoint, relativePath: string): LocalTarget | undefined {
  if (to.kind !== "local") return undefined;
  return { dir: dirname(to.path), names: [basename(to.path), ...(relativePath ? relativePath.split("/") : [])] };
}

/** Copies one file; returns its size in bytes. */
async function copyFile(
  client: AcontextClient,
  { from, to, local }: { from: Endpoint; to: Endpoint; local?: LocalTarget },
  options: CopyOptions,
  staging: StagingDisk,
): Promise<number> {
  // Server-side when the API's transfer route can do it (it keeps the file's name); else streamed.
  const sameName = from.kind !== "stdio" && to.kind !== "stdio" && posix.basename(from.path) === posix.basename(to.path);
  if (from.kind === "disk" && to.kind === "sandbox" && sameName) return diskToSandbox(client, from, to);
  if (from.kind === "sandbox" && to.kind === "disk" && sameName) return sandboxToDisk(client, from, to);
  const viaDisk = (from.kind === "sandbox" || to.kind === "sandbox") && !(await client.supports("exec-stream"));
  // The local side first: a refused destination leaves the source unopened.
  const localPath = local && (await prepareLocalWrite(local, options.force));
  const source = await openSource(client, from, options, viaDisk ? staging : undefined);
  let bytes = 0;
  // Counting in a Transform (not a "data" listener, which would start the flow before the sink
  // is attached and lose the first chunks).
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      options.progress.add(chunk.length);
      done(null, chunk);
    },
  });
  options.progress.file(formatEndpoint(from) === "-" ? "stdin" : basename(formatEndpoint(from)), source.size);
  const flowing = source.stream.pipe(counter);
  source.stream.once("error", (err) => counter.destroy(err));

  if (to.kind === "disk") {
    const { dir, filename } = splitDiskPath(to.path);
    await client.upload(to.diskId, dir, filename, flowing, source.size);
  } else if (to.kind === "stdio") {
    await pipeline(flowing, options.stdout ?? process.stdout, { end: false });
  } else if (localPath) {
    await writeLocal(flowing, localPath);
  } else if (to.kind === "sandbox" && viaDisk) {
    await staging.toSandbox(flowing, source.size, to);
  } else if (to.kind === "sandbox" && (await client.supports("sandbox-files"))) {
    await client.writeSandboxFile(to.sandboxId, to.path, flowing, source.size);
  } else if (to.kind === "sandbox") {
    await runInSandbox(client, to.sandboxId, 'mkdir -p -- "$(dirname -- "$P")" && cat > "$P"', to.path, { stdin: flowing });
  }
  return bytes;
}

/** Server-side, through the API's transfer route: the bytes never come here. */
async function diskToSandbox(client: AcontextClient, from: Endpoint & { kind: "disk" }, to: Endpoint & { kind: "sandbox" }): Promise<number> {
  const source = splitDiskPath(from.path);
  const target = splitDiskPath(to.path);
  const { artifact } = await client.getArtifact(from.diskId, from.path);
  const ok = await client.downloadToSandbox(from.diskId, {
    file_path: source.dir,
    filename: source.filename,
    sandbox_id: to.sandboxId,
    sandbox_path: target.dir,
  });
  if (!ok) throw new ExpectedError(`the API could not copy ${formatEndpoint(from)} into sandbox ${to.sandboxId}`);
  return artifact.meta.__artifact_info__?.size ?? 0;
}

async function sandboxToDisk(client: AcontextClient, from: Endpoint & { kind: "sandbox" }, to: Endpoint & { kind: "disk" }): Promise<number> {
  const source = splitDiskPath(from.path);
  const target = splitDiskPath(to.path);
  const artifact = await client.uploadFromSandbox(to.diskId, {
    sandbox_id: from.sandboxId,
    sandbox_path: source.dir,
    sandbox_filename: source.filename,
    file_path: target.dir,
  });
  return artifact.meta.__artifact_info__?.size ?? 0;
}

/**
 * "file", "dir" or "missing" for a path inside a sandbox: asked of the API where it can say
 * (no command runs, so none shows in the sandbox's history), else by a probe run inside it.
 */
async function sandboxKind(client: AcontextClient, sandboxId: string, path: string): Promise<Kind> {
  if (await client.supports("sandbox-files")) {
    const type = await client.statSandboxPath(sandboxId, path);
    return type === "dir" ? "dir" : type === "missing" ? "missing" : "file";
  }
  const out = await runInSandbox(client, sandboxId, 'if [ -d "$P" ]; then echo dir; elif [ -e "$P" ]; then echo file; else echo missing; fi', path);
  const kind = out.trim();
  return kind === "dir" || kind === "file" ? kind : "missing";
}

/**
 * Runs a small shell script in a sandbox with the path in $P (set shell-quoted in front of the
 * script: an upstream exec takes no env), streaming `stdin` in and the output to `stdout` or
 * `onStdout` (which may throw: that ends the exec). Otherwise returns the output, at most
 * MAX_SCRIPT_OUTPUT_BYTES; a non-zero exit is an error with the start of the command's stderr.
 */
async function runInSandbox(
  client: AcontextClient,
  sandboxId: string,
  script: string,
  path: string,
  io: { stdin?: Readable; stdout?: NodeJS.WritableStream; onStdout?: (chunk: Buffer) => void } = {},
): Promise<string> {
  const out: Buffer[] = [];
  let outBytes = 0;
  const err: Buffer[] = [];
  let errBytes = 0;
  const code = await client.exec(
    sandboxId,
    { command: `P=${shellQuote(path)}; ${script}`, cwd: "/" },
    {
      stdin: io.stdin,
      onOutput: (stream, chunk) => {
        if (stream === "stderr") {
          if (errBytes < MAX_STDERR_BYTES) err.push(chunk.subarray(0, MAX_STDERR_BYTES - errBytes));
          errBytes += chunk.length;
        } else if (io.onStdout) io.onStdout(chunk);
        else if (io.stdout) {
          if (!io.stdout.write(chunk)) return once(io.stdout, "drain").then(() => {});
        } else {
          outBytes += chunk.length;
          if (outBytes > MAX_SCRIPT_OUTPUT_BYTES) {
            throw new ExpectedError(`sandbox ${sandboxId}: more than ${MAX_SCRIPT_OUTPUT_BYTES} bytes of output from a check of ${path} that prints one word`);
          }
          out.push(chunk);
        }
      },
    },
  );
  if (code !== 0) throw new ExpectedError(`sandbox ${sandboxId}: ${Buffer.concat(err).toString().trim() || `exit code ${code}`}`);
  return Buffer.concat(out).toString();
}

/** The bytes of `from`; a sandbox file comes through `staging` when there is one. */
async function openSource(client: AcontextClient, from: Endpoint, options: CopyOptions, staging?: StagingDisk): Promise<{ stream: Readable; size?: number }> {
  switch (from.kind) {
    case "stdio":
      return { stream: options.stdin ?? process.stdin };
    case "local":
      return { stream: createReadStream(from.path, { highWaterMark: 1024 * 1024 }), size: (await stat(from.path)).size };
    case "disk":
      return client.download(from.diskId, from.path);
    case "sandbox": {
      if (staging) {
        const staged = await staging.fromSandbox(from);
        return client.download(staged.diskId, staged.path);
      }
      if (await client.supports("sandbox-files")) return client.readSandboxFile(from.sandboxId, from.path);
      const stream = new PassThrough();
      runInSandbox(client, from.sandboxId, 'cat -- "$P"', from.path, { stdout: stream }).then(
        () => stream.end(),
        (err: Error) => stream.destroy(err),
      );
      return { stream };
    }
    default:
      throw new ExpectedError(`cannot read ${formatEndpoint(from)}`);
  }
}

/**
 * Makes the folders of `target` below its `dir` one level at a time, each checked with lstat to be
 * a real folder (a symbolic link could lead anywhere), and checks the file's own name: never a link
 * or a folder, and an existing file only with `force`. Returns the file's path.
 */
async function prepareLocalWrite({ dir, names }: LocalTarget, force: boolean): Promise<string> {
  await mkdir(dir, { recursive: true });
  let folder = dir;
  for (const name of names.slice(0, -1)) {
    folder = joinLocal(folder, name);
    await mkdir(folder).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
    });
    const made = await lstat(folder);
    if (made.isSymbolicLink()) {
      throw new ExpectedError(`refusing to write through the symbolic link ${JSON.stringify(folder)}`, {
        hint: "a copy never follows a link below its destination; remove the link, or copy somewhere else",
      });
    }
    if (!made.isDirectory()) throw new ExpectedError(`${JSON.stringify(folder)} is not a folder`, { hint: "move that file away, or copy somewhere else" });
  }
  const path = joinLocal(folder, names.at(-1)!);
  const existing = await lstat(path).catch(() => undefined);
  if (existing?.isSymbolicLink()) {
    throw new ExpectedError(`refusing to overwrite the symbolic link ${JSON.stringify(path)}`, {
      hint: "--force replaces regular files only; remove the link, or copy to another name",
    });
  }
  if (existing?.isDirectory()) throw new ExpectedError(`${path} is a directory`);
  if (existing && !existing.isFile()) {
    throw new ExpectedError(`refusing to overwrite ${JSON.stringify(path)}: not a regular file`, { hint: "--force replaces regular files only" });
  }
  if (existing && !force) throw new ExpectedError(`${path} already exists`, { hint: "overwrite it with --force, or copy to another name" });
  return path;
}

/**
 * Writes to `path` through a temp file beside it, made new (O_EXCL) and never through a link
 * (O_NOFOLLOW), then renamed over `path` (a rename replaces a name; it follows no link).
 */
async function writeLocal(stream: Readable, path: string): Promise<void> {
  const temp = joinLocal(dirname(path), `.${basename(path)}.acontext-${process.pid}.part`);
  // A temp file left by a killed earlier run with this pid; rm removes a link, never its target.
  await rm(temp, { force: true });
  try {
    const file = await open(temp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o666);
    await pipeline(stream, file.createWriteStream({ highWaterMark: 1024 * 1024 }));
    await rename(temp, path);
  } catch (err) {
    stream.destroy();
    await rm(temp, { force: true });
    throw err;
  }
}
