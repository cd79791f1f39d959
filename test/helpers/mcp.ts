// `acontext mcp` as an MCP client sees it: the SDK's real Client and StdioClientTransport spawning
// the built CLI. Every client is closed after its test (which ends the server process).
import type { Readable } from "node:stream";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterEach, expect } from "vitest";
import { CLI, lineWatcher } from "./cli.js";

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0).reverse()) await close();
});

export interface McpSession {
  client: Client;
  /** The server's log (stderr), line by line. */
  stderr: ReturnType<typeof lineWatcher>;
  /** Calls a tool; `text` is the first content block, `note` the second (a replaced sandbox). */
  call: (name: string, args?: Record<string, unknown>) => Promise<{ text: string; note?: string; isError: boolean }>;
  /** Calls a tool that must answer JSON without isError. */
  json: (name: string, args?: Record<string, unknown>) => Promise<Record<string, unknown>>;
  /** Disconnects, as a client that goes away does; resolves when the server process has exited. */
  close: () => Promise<void>;
  /** Errors the client saw (a line on stdout that is not JSON-RPC would be one). */
  errors: Error[];
}

export async function connectMcp(options: { env: Record<string, string>; args?: string[]; cwd: string }): Promise<McpSession> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "mcp", ...(options.args ?? [])],
    env: options.env,
    cwd: options.cwd,
    stderr: "pipe",
  });
  const stderr = lineWatcher(transport.stderr as Readable);
  const client = new Client({ name: "acontext-test", version: "1.0.0" });
  const errors: Error[] = [];
  client.onerror = (err) => errors.push(err);
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= client.close();
    return closed;
  };
  open.push(close);
  await client.connect(transport);
  const call: McpSession["call"] = async (name, args = {}) => {
    const result = (await client.callTool({ name, arguments: args })) as { content: Array<{ type: string; text: string }>; isError?: boolean };
    return { text: result.content[0]!.text, note: result.content[1]?.text, isError: Boolean(result.isError) };
  };
  const json: McpSession["json"] = async (name, args) => {
    const result = await call(name, args);
    expect(result.isError, result.text).toBe(false);
    return JSON.parse(result.text) as Record<string, unknown>;
  };
  return { client, stderr, call, json, close, errors };
}
