// text_editor_sandbox: view, create and str_replace, with upstream's arguments and JSON answers.
// Where the API moves sandbox files itself (extension "sandbox-files") the bytes go through it:
// exact, any content, no python3 needed in the sandbox, a file's mode kept. Elsewhere (an upstream
// API, or a file too big to move whole) commands in the sandbox do it, as upstream's SDK does.
import { posix } from "node:path";
import { Readable } from "node:stream";
import type { AcontextClient } from "../client/client.js";
import { shellQuote } from "../shared/units.js";
import { type Args, requiredString, ToolError, truncate } from "./args.js";
import { asApiError } from "./errors.js";
import { runCommand, type ToolOutcome } from "./sandbox-tools.js";
import type { Session } from "./session.js";

/** Files up to this size move whole through the API; bigger ones are worked on in the sandbox. */
const MAX_WHOLE_FILE = 16 * 1024 * 1024;
/** Lines a view shows without a range, as upstream. */
const DEFAULT_VIEW_LINES = 200;
const WORKDIR = "/workspace";

type Answer = Record<string, unknown>;

export async function textEditorTool(session: Session, args: Args, signal: AbortSignal): Promise<ToolOutcome> {
  const command = requiredString(args, "command");
  const path = requiredString(args, "path");
  // A relative path means the sandbox's working directory, as for a command run there.
  const absolute = posix.resolve(WORKDIR, path);
  let run: (client: AcontextClient, id: string, files: boolean) => Promise<Answer>;
  if (command === "view") {
    const range = viewRange(args.view_range);
    run = (client, id, files) => view(client, id, absolute, path, range, files, signal);
  } else if (command === "create") {
    const text = requiredString(args, "file_text", { allowEmpty: true, what: " for create command" });
    run = (client, id, files) => create(client, id, absolute, path, text, files, signal);
  } else if (command === "str_replace") {
    const oldText = requiredString(args, "old_str", { allowEmpty: true, what: " for str_replace command" });
    const newText = requiredString(args, "new_str", { allowEmpty: true, what: " for str_replace command" });
    if (oldText === "") throw new ToolError("old_str must not be empty: give the exact text to replace, with enough context to occur once");
    run = (client, id, files) => replace(client, id, absolute, path, oldText, newText, files, signal);
  } else {
    throw new ToolError(`Unknown command: ${command}. Must be 'view', 'create', or 'str_replace'`);
  }
  const files = await session.client.supports("sandbox-files");
  const { value, note } = await session.withSandbox((id) => run(session.client, id, files));
  // Upstream answers soft failures as JSON with an `error` key; for MCP they are tool errors too.
  return { text: JSON.stringify(value), isError: "error" in value, note };
}

/** `[start, end]`, 1-based and inclusive; an end of -1 means the last line. */
function viewRange(value: unknown): [number, number] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length !== 2 || !value.every((n) => Number.isInteger(n)))
    throw new ToolError(`view_range must be [start_line, end_line], two integers, got ${JSON.stringify(value)}`);
  const [start, end] = value as [number, number];
  if (start < 1) throw new ToolError(`view_range starts at line 1, got ${start}`);
  if (end !== -1 && end < start) throw new ToolError(`view_range's end (${end}) is before its start (${start}); use -1 for the last line`);
  return [start, end];
}

async function view(
  client: AcontextClient,
  id: string,
  path: string,
  shown: string,
  range: [number, number] | undefined,
  files: boolean,
  signal: AbortSignal,
): Promise<Answer> {
  const [start, end] = range ?? [1, DEFAULT_VIEW_LINES];
  if (files) {
    const read = await readWhole(client, id, path);
    if (read.error) return { error: `File not found: ${shown}`, stderr: read.error };
    if (read.text !== undefined) {
      const lines = splitLines(read.text);
      return numbered(lines.slice(start - 1, end === -1 ? undefined : end), start, lines.length);
    }
  }
  // In the sandbox: the line count (one more when the last line has no newline), then the lines.
  const script =
    `P=${shellQuote(path)}; [ -f "$P" ] || { echo "not a regular file" >&2; exit 3; }; ` +
    `n=$(wc -l < "$P") && { [ ! -s "$P" ] || [ -z "$(tail -c 1 -- "$P")" ] || n=$((n + 1)); } && echo "$n" && ` +
    `sed -n '${start},${end === -1 ? "$" : end}p' -- "$P"`;
  const result = await runCommand(client, id, script, { signal, limit: MAX_WHOLE_FILE });
  if (result.exitCode !== 0) return { error: `File not found: ${shown}`, stderr: result.stderr.trim() };
  const newline = result.stdout.indexOf("\n");
  const total = Number.parseInt(result.stdout.slice(0, newline), 10) || 0;
  return numbered(splitLines(result.stdout.slice(newline + 1)), start, total, result.stdoutCut);
}

/** Upstream's view answer: lines numbered as `nl -ba` does (width 6, a tab), cut at 20,000 characters. */
function numbered(lines: string[], start: number, total: number, cut = false): Answer {
  const content = lines.map((line, i) => `${String(start + i).padStart(6)}\t${line}\n`).join("");
  return { file_type: "text", content: truncate(content, cut), numLines: lines.length, startLine: start, totalLines: total };
}

/** A file's lines; a final newline ends the last line rather than starting another. */
function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

async function create(client: AcontextClient, id: string, path: string, shown: string, text: string, files: boolean, signal: AbortSignal): Promise<Answer> {
  const failed = (stderr: string) => ({ error: `Failed to create file: ${shown}`, stderr });
  const bytes = Buffer.from(text, "utf8");
  if (files) {
    const existing = await probe(client, id, path);
    if (existing === "not a file") return failed(`${path} exists and is not a regular file`);
    try {
      await client.writeSandboxFile(id, path, Readable.from([bytes]), bytes.length);
    } catch (err) {
      if (fileError(err)) return failed(fileError(err)!);
      throw err;
    }
    return { is_file_update: existing === "file", message: `File ${existing === "file" ? "updated" : "created"}: ${shown}` };
  }
  const script =
    `P=${shellQuote(path)}; if [ -f "$P" ]; then u=1; else u=0; fi; mkdir -p -- "$(dirname -- "$P")" && ` +
    `printf %s ${shellQuote(bytes.toString("base64"))} | base64 -d > "$P" && echo "STATUS:$u"`;
  const result = await runCommand(client, id, script, { signal });
  if (result.exitCode !== 0 || !result.stdout.includes("STATUS:")) return failed(result.stderr.trim());
  const updated = result.stdout.includes("STATUS:1");
  return { is_file_update: updated, message: `File ${updated ? "updated" : "created"}: ${shown}` };
}

async function replace(
  client: AcontextClient,
  id: string,
  path: string,
  shown: string,
  oldText: string,
  newText: string,
  files: boolean,
  signal: AbortSignal,
): Promise<Answer> {
  let count: number;
  const read = files ? await readWhole(client, id, path) : {};
  if (read.error) return { error: `File not found: ${shown}`, stderr: read.error };
  if (read.text !== undefined) {
    if (read.binary) return { error: `Not a UTF-8 text file: ${shown}` };
    count = occurrences(read.text, oldText);
    if (count === 1) {
      const bytes = Buffer.from(
        read.text.replace(oldText, () => newText),
        "utf8",
      );
      try {
        await client.writeSandboxFile(id, path, Readable.from([bytes]), bytes.length);
      } catch (err) {
        if (fileError(err)) return { error: `Failed to write file: ${shown}`, stderr: fileError(err) };
        throw err;
      }
    }
  } else {
    // In the sandbox, with python3 (as upstream): the strings travel base64-encoded as one argument.
    const input = Buffer.from(JSON.stringify({ path, old: oldText, new: newText })).toString("base64");
    const result = await runCommand(client, id, `python3 -c ${shellQuote(REPLACE_PY)} ${input}`, { signal });
    const answer = result.stdout.trim();
    if (answer === "NOT_A_FILE" || (result.exitCode !== 0 && !answer)) return { error: `File not found: ${shown}`, stderr: result.stderr.trim() };
    if (answer === "NOT_TEXT") return { error: `Not a UTF-8 text file: ${shown}` };
    if (!answer.startsWith("COUNT:")) return { error: `Unexpected response: ${answer}`, stderr: result.stderr.trim() };
    count = Number(answer.slice(6));
  }
  if (count === 0) return { error: `String not found in file: ${oldText.slice(0, 50)}...` };
  if (count > 1) return { error: `Multiple occurrences (${count}) of the string found. Please provide more context to make the match unique.` };
  return { msg: "Successfully replaced text at exactly one location." };
}

const REPLACE_PY = `import base64, json, sys
a = json.loads(base64.b64decode(sys.argv[1]))
try:
    with open(a["path"], "rb") as f:
        data = f.read()
except OSError:
    print("NOT_A_FILE")
    sys.exit(0)
try:
    text = data.decode("utf-8")
except UnicodeDecodeError:
    print("NOT_TEXT")
    sys.exit(0)
n = text.count(a["old"])
if n == 1:
    with open(a["path"], "r+b") as f:
        f.write(text.replace(a["old"], a["new"], 1).encode("utf-8"))
        f.truncate()
print("COUNT:%d" % n)
`;

/** Non-overlapping occurrences, as Python's str.count. */
function occurrences(text: string, part: string): number {
  let count = 0;
  for (let at = text.indexOf(part); at !== -1; at = text.indexOf(part, at + part.length)) count++;
  return count;
}

/**
 * A sandbox file's text through the API. `error` when it is not there (or not a file);
 * no `text` when it is too big to move whole; `binary` when it is not UTF-8.
 */
async function readWhole(client: AcontextClient, id: string, path: string): Promise<{ text?: string; binary?: boolean; error?: string }> {
  let file: Awaited<ReturnType<AcontextClient["readSandboxFile"]>>;
  try {
    file = await client.readSandboxFile(id, path);
  } catch (err) {
    const message = fileError(err);
    if (message) return { error: message };
    throw err;
  }
  if ((file.size ?? 0) > MAX_WHOLE_FILE) {
    file.stream.destroy();
    return {};
  }
  const chunks: Buffer[] = [];
  for await (const chunk of file.stream) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { text: bytes.toString("utf8"), binary: true };
  }
}

/** What is at `path`: a regular file, nothing, or something else. */
async function probe(client: AcontextClient, id: string, path: string): Promise<"file" | "nothing" | "not a file"> {
  try {
    (await client.readSandboxFile(id, path)).stream.destroy();
    return "file";
  } catch (err) {
    if (asApiError(err)?.status === 404 && fileError(err)) return "nothing";
    if (fileError(err)) return "not a file";
    throw err;
  }
}

/**
 * The message of a failure about the file itself (missing, a folder, denied, no space), which is
 * an answer for the model; undefined for anything else (the sandbox gone, the API failing).
 */
function fileError(err: unknown): string | undefined {
  const api = asApiError(err);
  if (!api || api.status === 401 || /^sandbox not found/i.test(api.message)) return undefined;
  if ((api.status >= 400 && api.status < 500) || api.status === 507) return api.detail || api.message;
  return undefined;
}
