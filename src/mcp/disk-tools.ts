// The *_disk tools, with upstream's arguments and answers. A `file_path` argument is a folder
// (upstream's rule: `/` when empty, slashes added at both ends); the file is `filename` in it.
import { Readable } from "node:stream";
import { type Args, asFolder, optionalNumber, optionalString, requiredString, ToolError } from "./args.js";
import type { ToolOutcome } from "./sandbox-tools.js";
import type { Session } from "./session.js";

/** The most results the API gives for one search. */
const MAX_SEARCH_RESULTS = 200;

function fileOf(args: Args): { folder: string; filename: string; path: string } {
  const folder = asFolder(optionalString(args, "file_path"));
  const filename = requiredString(args, "filename");
  return { folder, filename, path: folder + filename };
}

async function writeText(session: Session, folder: string, filename: string, text: string) {
  const bytes = Buffer.from(text, "utf8");
  return session.client.upload(await session.diskId(), folder, filename, Readable.from([bytes]), bytes.length, "text/plain");
}

/** A disk file's text, as the API gives it (text files only). */
async function readText(session: Session, path: string): Promise<string> {
  const { content } = await session.client.getArtifact(await session.diskId(), path, { withContent: true });
  if (typeof content?.raw !== "string") {
    throw new ToolError("Failed to read file: server did not return content. (The API returns text files only, up to its size limit.)");
  }
  return content.raw;
}

export async function writeFileTool(session: Session, args: Args): Promise<ToolOutcome> {
  const { folder, filename } = fileOf(args);
  // Unlike upstream, an empty file may be written.
  const content = requiredString(args, "content", { allowEmpty: true });
  const artifact = await writeText(session, folder, filename, content);
  return { text: `File '${artifact.filename}' written successfully to '${artifact.path}'` };
}

export async function readFileTool(session: Session, args: Args): Promise<ToolOutcome> {
  const { path } = fileOf(args);
  const offset = optionalNumber(args, "line_offset", { integer: true, min: 0 }) || 0;
  const limit = optionalNumber(args, "line_limit", { integer: true, min: 0 }) || 100;
  const lines = (await readText(session, path)).split("\n");
  const start = Math.min(offset, Math.max(0, lines.length - 1));
  const end = Math.min(start + limit, lines.length);
  // The header says which lines these are, so a cut is never silent.
  return { text: `[${path} - showing L${start}-${end} of ${lines.length} lines]\n${lines.slice(start, end).join("\n")}` };
}

export async function replaceStringTool(session: Session, args: Args): Promise<ToolOutcome> {
  const { folder, filename, path } = fileOf(args);
  const oldText = requiredString(args, "old_string", { allowEmpty: true });
  const newText = requiredString(args, "new_string", { allowEmpty: true });
  if (oldText === "") throw new ToolError("old_string must not be empty: give the exact text to replace");
  const text = await readText(session, path);
  let count = 0;
  for (let at = text.indexOf(oldText); at !== -1; at = text.indexOf(oldText, at + oldText.length)) count++;
  if (count === 0) return { text: `String '${oldText}' not found in file '${filename}'`, isError: true };
  // The first occurrence only, as upstream (the count says how many there were).
  await writeText(
    session,
    folder,
    filename,
    text.replace(oldText, () => newText),
  );
  return { text: `Found ${count} old_string in ${path} and replaced it.` };
}

export async function listTool(session: Session, args: Args): Promise<ToolOutcome> {
  const folder = asFolder(optionalString(args, "file_path"));
  const { artifacts, directories } = await session.client.listDirectory(await session.diskId(), folder);
  const dirs = directories.length ? directories.map((dir) => `${dir.replace(/\/$/, "")}/`).join("\n") : "[NO DIR]";
  const files = artifacts.length ? artifacts.map((artifact) => artifact.filename).join("\n") : "[NO FILE]";
  return { text: `[Listing in ${folder}]\nDirectories:\n${dirs}\nFiles:\n${files}` };
}

export function grepTool(session: Session, args: Args): Promise<ToolOutcome> {
  return search(session, args, "grep", (query) => `No matches found for pattern '${query}'`);
}

export function globTool(session: Session, args: Args): Promise<ToolOutcome> {
  return search(session, args, "glob", (query) => `No files found matching pattern '${query}'`);
}

async function search(session: Session, args: Args, kind: "grep" | "glob", none: (query: string) => string): Promise<ToolOutcome> {
  const query = requiredString(args, "query");
  const asked = optionalNumber(args, "limit", { integer: true, min: 0 }) || 100;
  const limit = Math.min(asked, MAX_SEARCH_RESULTS);
  const diskId = await session.diskId();
  const found = kind === "grep" ? await session.client.grep(diskId, query, limit) : await session.client.glob(diskId, query, limit);
  if (!found.length) return { text: none(query) };
  const lines = [`Found ${found.length} file(s) matching '${query}':`, ...found.map((artifact) => artifact.path + artifact.filename)];
  if (found.length >= limit) {
    lines.push(
      asked > limit
        ? `[stopped at ${limit} results, the most one search returns; there may be more: narrow the pattern]`
        : `[stopped at limit=${limit}; there may be more: raise limit (at most ${MAX_SEARCH_RESULTS}) or narrow the pattern]`,
    );
  }
  return { text: lines.join("\n") };
}

export async function downloadTool(session: Session, args: Args): Promise<ToolOutcome> {
  const { path } = fileOf(args);
  const expire = optionalNumber(args, "expire", { integer: true, min: 0 }) || 3600;
  const { public_url } = await session.client.getArtifact(await session.diskId(), path, { withPublicUrl: true, expire });
  if (!public_url) throw new ToolError("Failed to get public URL: server did not return a URL.");
  return { text: `Public download URL for '${path}' (expires in ${expire}s):\n${public_url}` };
}
