// `acontext mcp`: the agent tools served over MCP on stdio, with the SDK's low-level Server (the
// tools' JSON schemas are upstream's, as written, not generated). stdout carries the protocol and
// nothing else; the log goes to stderr. A failing tool is an answer with isError, never a crash.
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from "@modelcontextprotocol/sdk/types.js";
import type { Args } from "./args.js";
import { ToolError } from "./args.js";
import { downloadTool, globTool, grepTool, listTool, readFileTool, replaceStringTool, writeFileTool } from "./disk-tools.js";
import { asApiError, isConnectionError } from "./errors.js";
import { bashTool, exportTool, type ToolOutcome } from "./sandbox-tools.js";
import { Session, type SessionOptions } from "./session.js";
import { textEditorTool } from "./text-editor.js";
import { DISK_TOOLS, INSTRUCTIONS, SANDBOX_TOOLS } from "./tools.js";

type Runner = (session: Session, args: Args, signal: AbortSignal) => Promise<ToolOutcome>;

const RUNNERS: Record<string, Runner> = {
  bash_execution_sandbox: bashTool,
  text_editor_sandbox: textEditorTool,
  export_file_sandbox: exportTool,
  write_file_disk: writeFileTool,
  read_file_disk: readFileTool,
  replace_string_disk: replaceStringTool,
  list_disk: listTool,
  grep_disk: grepTool,
  glob_disk: globTool,
  download_file_disk: downloadTool,
};

export interface McpOptions extends SessionOptions {
  version: string;
  /** Aborted by SIGINT/SIGTERM/SIGHUP: the session ends as on a disconnect. */
  signal: AbortSignal;
}

/** Why serving ended. */
export type Ending = "disconnected" | "signal";

/** Serves until the client disconnects (stdin ends) or `signal` aborts; then kills the sandboxes it made. */
export async function serveMcp(options: McpOptions): Promise<Ending> {
  const { log } = options;
  const session = new Session(options);
  const server = new Server({ name: "acontext", version: options.version }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [...SANDBOX_TOOLS, ...DISK_TOOLS] }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name } = request.params;
    const runner = RUNNERS[name];
    if (!runner) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    const args = (request.params.arguments ?? {}) as Args;
    const signal = AbortSignal.any([extra.signal, session.signal]);
    try {
      const outcome = await runner(session, args, signal).catch(async (err: unknown) => {
        // The API refused the connection, so nothing of this call reached it: once more, after
        // reconnecting (the local server, started again).
        if (await session.reconnect(err)) return runner(session, args, signal);
        throw err;
      });
      const content = [{ type: "text" as const, text: outcome.text.trim() }];
      if (outcome.note) content.push({ type: "text", text: outcome.note });
      return outcome.isError ? { content, isError: true } : { content };
    } catch (err) {
      const text = describe(err);
      log(`${name}: ${text}`);
      return { content: [{ type: "text" as const, text }], isError: true };
    }
  });
  server.onerror = (err) => log(`mcp: ${err.message}`);

  const ended = new Promise<Ending>((resolve) => {
    const disconnected = () => resolve("disconnected");
    process.stdin.once("end", disconnected);
    process.stdin.once("close", disconnected);
    // A client gone while we answer: EPIPE on stdout.
    process.stdout.once("error", disconnected);
    server.onclose = disconnected;
    if (options.signal.aborted) resolve("signal");
    options.signal.addEventListener("abort", () => resolve("signal"), { once: true });
  });
  await server.connect(new StdioServerTransport());
  log(`acontext mcp: serving ${SANDBOX_TOOLS.length + DISK_TOOLS.length} tools on stdio (API ${session.client.baseUrl})`);

  const why = await ended;
  log(why === "signal" ? "acontext mcp: stopping (signal)" : "acontext mcp: the client disconnected");
  await session.close();
  await server.close().catch(() => {});
  process.stdin.destroy();
  return why;
}

/** A failure as the model (and the log) should read it: one line, what went wrong and where. */
export function describe(err: unknown): string {
  if (err instanceof ToolError) return err.message;
  const api = asApiError(err);
  if (api) return `${api.message} (HTTP ${api.status})${api.detail ? `: ${api.detail}` : ""}`;
  if (isConnectionError(err)) return `${err.message} (is the Acontext API running? for the local server: acontext server status)`;
  if (err instanceof Error && err.name === "AbortError") return "cancelled";
  return err instanceof Error ? err.message : String(err);
}
