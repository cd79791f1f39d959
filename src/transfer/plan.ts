// `disk cp` endpoints and planning. Pure: what exists where is passed in, so every rule is a table
// test. Rules follow docker cp / aws s3 cp: a destination ending in "/" (or an existing directory)
// receives sources by their base name; directories need -r; "-" is stdin or stdout.
import { posix } from "node:path";

export type Endpoint =
  | { kind: "local"; path: string }
  | { kind: "stdio" }
  | { kind: "disk"; diskId: string; path: string }
  | { kind: "sandbox"; sandboxId: string; path: string };

export class PlanError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    /** 2 for a usage problem, 1 for a missing source or a refused listing (safe-path.ts). */
    readonly exitCode: 1 | 2 = 2,
  ) {
    super(message);
    this.name = "PlanError";
  }
}

/** `disk://ID/dir/file`, `sandbox://ID/path`, `-`, or a local path (never ambiguous with a colon). */
export function parseEndpoint(text: string): Endpoint {
  if (text === "-") return { kind: "stdio" };
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)(\/.*)?$/i.exec(text);
  if (!match) {
    if (text === "") throw new PlanError("an empty path");
    return { kind: "local", path: text };
  }
  const [, scheme, id, rest] = match;
  if (scheme !== "disk" && scheme !== "sandbox") {
    throw new PlanError(`unknown scheme in ${text}`, "remote paths look like disk://DISK_ID/path or sandbox://SANDBOX_ID/path");
  }
  if (!id) throw new PlanError(`no ${scheme} id in ${text}`, `write ${scheme}://ID/path`);
  const path = rest ?? "/";
  if (path.includes("\0") || path.split("/").some((segment) => segment === "..")) {
    throw new PlanError(`"${path}" is not an acceptable path: no ".." segments`);
  }
  return scheme === "disk" ? { kind: "disk", diskId: id, path } : { kind: "sandbox", sandboxId: id, path };
}

export function formatEndpoint(endpoint: Endpoint): string {
  switch (endpoint.kind) {
    case "stdio":
      return "-";
    case "local":
      return endpoint.path;
    case "disk":
      return `disk://${endpoint.diskId}${endpoint.path}`;
    case "sandbox":
      return `sandbox://${endpoint.sandboxId}${endpoint.path}`;
  }
}

export type Kind = "file" | "dir" | "missing";

/** What exists at an endpoint (looked up by the caller before planning). */
export type Lookup = (endpoint: Endpoint) => Kind;

/** One source copied to one place: a file to a file, or a directory tree into a directory. */
export type Step = { type: "file"; from: Endpoint; to: Endpoint } | { type: "tree"; from: Endpoint; to: Endpoint };

export function planCopy(sources: Endpoint[], destination: Endpoint, options: { recursive: boolean }, lookup: Lookup): Step[] {
  if (sources.length === 0) throw new PlanError("nothing to copy", "acontext disk cp SRC… DST");
  if (destination.kind === "stdio" && sources.length !== 1) throw new PlanError("only one source can be copied to stdout (-)");
  if (sources.filter((s) => s.kind === "stdio").length > 1) throw new PlanError("stdin (-) can be read only once");

  const destKind = destination.kind === "stdio" ? "missing" : lookup(destination);
  const destIsDir = destination.kind !== "stdio" && (destKind === "dir" || endsWithSlash(destination));
  if (sources.length > 1 && !destIsDir) {
    throw new PlanError(`copying ${sources.length} sources needs a directory destination`, `end it with "/": ${formatEndpoint(destination)}/`);
  }
  if (destination.kind !== "stdio" && destKind === "file" && endsWithSlash(destination)) {
    throw new PlanError(`${formatEndpoint(destination)} is a file, not a directory`);
  }

  return sources.map((source) => {
    if (source.kind !== "stdio" && source.kind === destination.kind) {
      throw new PlanError(
        `both ${formatEndpoint(source)} and ${formatEndpoint(destination)} are ${source.kind === "local" ? "local" : source.kind === "disk" ? "on disks" : "in sandboxes"}`,
        source.kind === "local" ? "use cp for local copies" : "copy through a local folder: remote → local, then local → remote",
      );
    }
    if (source.kind === "stdio") {
      if (destIsDir) throw new PlanError("stdin (-) needs a file name as destination", `e.g. ${formatEndpoint(join(destination, "data.bin"))}`);
      return { type: "file", from: source, to: destination };
    }
    const kind = lookup(source);
    if (kind === "missing") throw new PlanError(`${formatEndpoint(source)}: no such file or directory`, missingHint(source), 1);
    if (kind === "dir") {
      if (!options.recursive) throw new PlanError(`${formatEndpoint(source)} is a directory`, "copy directories with -r");
      if (destination.kind === "stdio") throw new PlanError("a directory cannot be copied to stdout (-)");
      if (destKind === "file") throw new PlanError(`cannot copy directory ${formatEndpoint(source)} onto file ${formatEndpoint(destination)}`);
      return { type: "tree", from: source, to: destIsDir ? join(destination, baseName(source)) : destination };
    }
    if (endsWithSlash(source)) throw new PlanError(`${formatEndpoint(source)} is a file, not a directory`);
    return { type: "file", from: source, to: destIsDir ? join(destination, baseName(source)) : destination };
  });
}

/** What to do about a source that is not there: how to see what is. */
function missingHint(source: Endpoint): string {
  const parent = (path: string) => path.replace(/[^/]*\/?$/, "") || "/";
  switch (source.kind) {
    case "disk":
      return `see what is there: acontext disk ls disk://${source.diskId}${parent(source.path)}`;
    case "sandbox":
      return `see what is there: acontext sandbox exec ${source.sandboxId} -- ls -la ${parent(source.path)}`;
    default:
      return "check the path (relative to this folder); remote paths start with disk:// or sandbox://";
  }
}

function endsWithSlash(endpoint: Endpoint): boolean {
  return endpoint.kind !== "stdio" && endpoint.path.endsWith("/");
}

function baseName(endpoint: Endpoint): string {
  const path = endpoint.kind === "stdio" ? "" : endpoint.path.replace(/\/+$/, "");
  return posix.basename(path) || "root";
}

/** `endpoint` + "/" + `name`, keeping the endpoint's kind. */
export function join(endpoint: Endpoint, name: string): Endpoint {
  if (endpoint.kind === "stdio") return endpoint;
  const path = endpoint.path.endsWith("/") ? `${endpoint.path}${name}` : `${endpoint.path}/${name}`;
  return { ...endpoint, path };
}

/** A disk file path split into the API's directory (`/a/b/`) and filename. */
/** A path as a directory: with one trailing "/". */
export function asDirectory(path: string): string {
  return path.endsWith("/") ? path : `${path}/`;
}

export function splitDiskPath(path: string): { dir: string; filename: string } {
  const normalized = path.startsWith("/") ? path : `/${path}`;
  const slash = normalized.lastIndexOf("/");
  return { dir: normalized.slice(0, slash + 1), filename: normalized.slice(slash + 1) };
}
