// `disk cp`: looks up what the endpoints are, plans (plan.ts), then streams each file: local files
// and stdin up to disks, disk files down to local files or stdout. Downloads go to a temp file
// renamed into place, so an interrupted copy never leaves a partial file under the real name.
// Sandbox files stream through exec where the API streams it (our extension); an upstream-shaped
// API, whose exec is buffered text without stdin, gets them through a temporary disk and its
// sandbox transfer routes instead.
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join as joinLocal, posix, relative } from "node:path";
import { PassThrough, Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CliError } from "../cli/errors.js";
import type { Progress } from "../cli/progress.js";
import { shellQuote } from "../cli/units.js";
import { APIError, type AcontextClient } from "../client/client.js";
import { listFiles } from "./list.js";
import { asDirectory, formatEndpoint, join, parseEndpoint, PlanError, planCopy, splitDiskPath, type Endpoint, type Kind } from "./plan.js";

export interface CopyOptions {
  recursive: boolean;
  force: boolean;
  progress: Progress;
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
  let steps;
  try {
    const sources = sourceTexts.map(parseEndpoint);
    const destination = parseEndpoint(destinationText);
    const kinds = new Map<string, Kind>();
    for (const endpoint of [...sources, destination]) {
      if (endpoint.kind !== "stdio") kinds.set(formatEndpoint(endpoint), await kindOf(client, endpoint));
    }
    steps = planCopy(sources, destination, { recursive: options.recursive }, (e) => kinds.get(formatEndpoint(e)) ?? "missing");
  } catch (err) {
    if (err instanceof PlanError) throw new CliError(err.message, { hint: err.hint, exitCode: err.exitCode });
    throw err;
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
      const files = step.type === "file" ? [{ from: step.from, to: step.to }] : await expandTree(client, step.from, step.to);
      for (const file of files) {
        summary.bytes += await copyFile(client, file.from, file.to, options, staging);
        summary.files++;
      }
    }
  } finally {
    options.progress.end();
    await staging.remove();
  }
  return summary;
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
    if (!ok) throw new CliError(`the API could not write ${formatEndpoint(to)}`);
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

/** Every file under a directory endpoint, paired with where it goes under `to`. */
async function expandTree(client: AcontextClient, from: Endpoint, to: Endpoint): Promise<Array<{ from: Endpoint; to: Endpoint }>> {
  const pairs: Array<{ from: Endpoint; to: Endpoint }> = [];
  if (from.kind === "local") {
    for (const file of await walkLocal(from.path)) {
      pairs.push({ from: { kind: "local", path: file }, to: joinPath(to, relative(from.path, file).split("\\").join("/")) });
    }
  } else if (from.kind === "sandbox") {
    // Regular files under the folder, listed inside the sandbox (NUL-separated: any file name).
    const listing = await runInSandbox(client, from.sandboxId, 'cd -- "$P" && find . -type f -print0', from.path);
    for (const rel of listing.split("\0").filter(Boolean).sort()) {
      const relative = rel.replace(/^\.\//, "");
      pairs.push({ from: joinPath(from, relative), to: joinPath(to, relative) });
    }
  } else if (from.kind === "disk") {
    const root = asDirectory(from.path);
    for (const entry of await listFiles(client, formatEndpoint({ ...from, path: root }), true)) {
      if (entry.type === "file") pairs.push({ from: { ...from, path: entry.path }, to: joinPath(to, entry.path.slice(root.length)) });
    }
  }
  return pairs;
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

/** Copies one file; returns its size in bytes. */
async function copyFile(client: AcontextClient, from: Endpoint, to: Endpoint, options: CopyOptions, staging: StagingDisk): Promise<number> {
  // Server-side when the API's transfer route can do it (it keeps the file's name); else streamed.
  const sameName = from.kind !== "stdio" && to.kind !== "stdio" && posix.basename(from.path) === posix.basename(to.path);
  if (from.kind === "disk" && to.kind === "sandbox" && sameName) return diskToSandbox(client, from, to);
  if (from.kind === "sandbox" && to.kind === "disk" && sameName) return sandboxToDisk(client, from, to);
  const viaDisk = (from.kind === "sandbox" || to.kind === "sandbox") && !(await client.supports("exec-stream"));
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
  } else if (to.kind === "local") {
    await writeLocal(flowing, to.path, options.force);
  } else if (to.kind === "sandbox" && viaDisk) {
    await staging.toSandbox(flowing, source.size, to);
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
  const ok = await client.downloadToSandbox(from.diskId, { file_path: source.dir, filename: source.filename, sandbox_id: to.sandboxId, sandbox_path: target.dir });
  if (!ok) throw new CliError(`the API could not copy ${formatEndpoint(from)} into sandbox ${to.sandboxId}`);
  return artifact.meta.__artifact_info__?.size ?? 0;
}

async function sandboxToDisk(client: AcontextClient, from: Endpoint & { kind: "sandbox" }, to: Endpoint & { kind: "disk" }): Promise<number> {
  const source = splitDiskPath(from.path);
  const target = splitDiskPath(to.path);
  const artifact = await client.uploadFromSandbox(to.diskId, { sandbox_id: from.sandboxId, sandbox_path: source.dir, sandbox_filename: source.filename, file_path: target.dir });
  return artifact.meta.__artifact_info__?.size ?? 0;
}

/** "file", "dir" or "missing" for a path inside a sandbox, asked inside it. */
async function sandboxKind(client: AcontextClient, sandboxId: string, path: string): Promise<Kind> {
  const out = await runInSandbox(client, sandboxId, 'if [ -d "$P" ]; then echo dir; elif [ -e "$P" ]; then echo file; else echo missing; fi', path);
  const kind = out.trim();
  return kind === "dir" || kind === "file" ? kind : "missing";
}

/**
 * Runs a small shell script in a sandbox with the path in $P (set shell-quoted in front of the
 * script: an upstream exec takes no env), streaming `stdin` in and, when `stdout` is given, the
 * output out. Returns the output otherwise; a non-zero exit is an error with the command's stderr.
 */
async function runInSandbox(
  client: AcontextClient,
  sandboxId: string,
  script: string,
  path: string,
  io: { stdin?: Readable; stdout?: NodeJS.WritableStream } = {},
): Promise<string> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const code = await client.exec(sandboxId, { command: `P=${shellQuote(path)}; ${script}`, cwd: "/" }, {
    stdin: io.stdin,
    onOutput: (stream, chunk) => {
      if (stream === "stderr") err.push(chunk);
      else if (!io.stdout) out.push(chunk);
      else if (!io.stdout.write(chunk)) return once(io.stdout, "drain").then(() => {});
    },
  });
  if (code !== 0) throw new CliError(`sandbox ${sandboxId}: ${Buffer.concat(err).toString().trim() || `exit code ${code}`}`);
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
      const stream = new PassThrough();
      runInSandbox(client, from.sandboxId, 'cat -- "$P"', from.path, { stdout: stream }).then(
        () => stream.end(),
        (err: Error) => stream.destroy(err),
      );
      return { stream };
    }
    default:
      throw new CliError(`cannot read ${formatEndpoint(from)}`);
  }
}

/** Writes to `path` through a temp file beside it; an existing file needs `force`. */
async function writeLocal(stream: Readable, path: string, force: boolean): Promise<void> {
  const existing = await lstat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new CliError(`${path} is a directory`);
  if (existing && !force) {
    stream.destroy();
    throw new CliError(`${path} already exists`, { hint: "overwrite it with --force, or copy to another name" });
  }
  await mkdir(dirname(path), { recursive: true });
  const temp = joinLocal(dirname(path), `.${basename(path)}.acontext-${process.pid}.part`);
  try {
    await pipeline(stream, createWriteStream(temp, { highWaterMark: 1024 * 1024 }));
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
