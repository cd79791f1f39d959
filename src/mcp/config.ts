// `acontext mcp --print-config CLIENT`: the JSON that registers this server with an MCP client.
// Pure: the command gives it the command line and the environment the server needs.

export const CONFIG_CLIENTS = ["claude", "cursor", "vscode"] as const;
export type ConfigClient = (typeof CONFIG_CLIENTS)[number];

export interface ServerLaunch {
  /** An absolute path (node itself: GUI clients start servers with a bare PATH). */
  command: string;
  args: string[];
  /** Only what the server cannot find by itself (a remote API's URL and key). */
  env: Record<string, string>;
}

/** Where each client reads the snippet from. */
export const CONFIG_FILES: Record<ConfigClient, string> = {
  claude: "claude_desktop_config.json (Claude Desktop: Settings → Developer → Edit Config)",
  cursor: "~/.cursor/mcp.json, or .cursor/mcp.json in a project",
  vscode: ".vscode/mcp.json in a workspace (or the user's mcp.json: MCP: Open User Configuration)",
};

export function configSnippet(client: ConfigClient, launch: ServerLaunch, name = "acontext"): unknown {
  const env = Object.keys(launch.env).length ? { env: launch.env } : {};
  if (client === "vscode") return { servers: { [name]: { type: "stdio", command: launch.command, args: launch.args, ...env } } };
  return { mcpServers: { [name]: { command: launch.command, args: launch.args, ...env } } };
}
