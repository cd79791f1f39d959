// The agent tools as MCP lists them: upstream's names, descriptions and input schemas (its SDKs'
// SANDBOX_TOOLS and DISK_TOOLS, reference/agent-tools.md), so prompts written for upstream work
// unchanged. Only the definitions: sandbox-tools.ts and disk-tools.ts run them.

export interface ToolDefinition {
  name: string;
  description: string;
  inputSchema: { type: "object"; properties: Record<string, Record<string, unknown>>; required: string[] };
}

function tool(name: string, description: string, properties: Record<string, Record<string, unknown>>, required: string[]): ToolDefinition {
  return { name, description, inputSchema: { type: "object", properties, required } };
}

const OPTIONAL_DIRECTORY = {
  type: "string",
  description: "Optional directory path where the file is located, e.g. '/notes/'. Defaults to root '/' if not specified.",
};
const SEARCH_LIMIT = { type: "integer", description: "Maximum number of results to return (default 100)" };

/** In upstream's pool order: bash, editor, export. */
export const SANDBOX_TOOLS: ToolDefinition[] = [
  tool(
    "bash_execution_sandbox",
    "The bash_execution_sandbox tool enables execution of bash scripts in a secure sandboxed container environment.",
    {
      command: {
        type: "string",
        description: "The bash command to execute. Examples: 'ls -la', 'python3 script.py', 'sed -i 's/old_string/new_string/g' file.py'",
      },
      timeout: {
        type: ["number", "null"],
        description: "Optional timeout in seconds for this command. Use for long-running commands that may exceed the default timeout.",
      },
    },
    ["command"],
  ),
  tool(
    "text_editor_sandbox",
    "A tool for viewing, creating, and editing text files in the sandbox.",
    {
      command: {
        type: "string",
        enum: ["view", "create", "str_replace"],
        description:
          "The operation to perform: 'view', 'create', or 'str_replace'. Required parameters per command: 'view' requires path (view_range is optional); " +
          "'create' requires path and file_text; 'str_replace' requires path, old_str, and new_str.",
      },
      path: { type: "string", description: "Required for all commands. The file path in the sandbox (e.g., '/workspace/script.py')" },
      file_text: { type: ["string", "null"], description: "Required for 'create' command. The content to write to the file." },
      old_str: { type: ["string", "null"], description: "Required for 'str_replace' command. The exact string to find and replace." },
      new_str: { type: ["string", "null"], description: "Required for 'str_replace' command. The string to replace old_str with." },
      view_range: {
        type: ["array", "null"],
        items: { type: "integer" },
        description: "Optional for 'view' command. An array [start_line, end_line] to view specific lines. If not provided, shows the first 200 lines.",
      },
    },
    ["command", "path"],
  ),
  tool(
    "export_file_sandbox",
    "Export a file from the sandbox to persistent, shared disk storage, and return you a public download URL.\n" +
      "If the sandbox file is changed, the disk file won't be updated unless you export the file again.",
    {
      sandbox_path: {
        type: "string",
        description: "The directory path in the sandbox where the file is located. Must end with '/'. Examples: '/workspace/', '/home/user/output/'",
      },
      sandbox_filename: { type: "string", description: "The name of the file to export from the sandbox." },
    },
    ["sandbox_path", "sandbox_filename"],
  ),
];

/** In upstream's pool order: write, read, replace, list, grep, glob, download. */
export const DISK_TOOLS: ToolDefinition[] = [
  tool(
    "write_file_disk",
    "Write text content to a file in the file system. Creates the file if it doesn't exist, overwrites if it does.",
    {
      file_path: {
        type: "string",
        description: "Optional folder path to organize files, e.g. '/notes/' or '/documents/'. Defaults to root '/' if not specified.",
      },
      filename: { type: "string", description: "Filename such as 'report.md' or 'demo.txt'." },
      content: { type: "string", description: "Text content to write to the file." },
    },
    ["filename", "content"],
  ),
  tool(
    "read_file_disk",
    "Read a text file from the file system and return its content.",
    {
      file_path: OPTIONAL_DIRECTORY,
      filename: { type: "string", description: "Filename to read." },
      line_offset: { type: "number", description: "The line number to start reading from. Default to 0" },
      line_limit: { type: "number", description: "The maximum number of lines to return. Default to 100" },
    },
    ["filename"],
  ),
  tool(
    "replace_string_disk",
    "Replace an old string with a new string in a file. Reads the file, performs the replacement, and writes it back.",
    {
      file_path: OPTIONAL_DIRECTORY,
      filename: { type: "string", description: "Filename to modify." },
      old_string: { type: "string", description: "The string to be replaced." },
      new_string: { type: "string", description: "The string to replace the old_string with." },
    },
    ["filename", "old_string", "new_string"],
  ),
  tool(
    "list_disk",
    "List all files and directories in a specified path on the disk.",
    { file_path: { type: "string", description: "Optional directory path to list, e.g. '/todo/' or '/notes/'. Root is '/'" } },
    ["file_path"],
  ),
  tool(
    "grep_disk",
    "Search for text patterns within file contents using regex. Only searches text-based files (code, markdown, json, csv, etc.). " +
      "Use this to find specific code patterns, TODO comments, function definitions, or any text content.",
    {
      query: { type: "string", description: "Regex pattern to search for (e.g., 'TODO.*', 'function.*calculate', 'import.*pandas')" },
      limit: SEARCH_LIMIT,
    },
    ["query"],
  ),
  tool(
    "glob_disk",
    "Find files by path pattern using glob syntax. Use * for any characters, ? for single character, ** for recursive directories. " +
      "Perfect for finding files by extension or location.",
    {
      query: {
        type: "string",
        description: "Glob pattern (e.g., '**/*.py' for all Python files, '*.txt' for text files in root, '/docs/**/*.md' for markdown in docs)",
      },
      limit: SEARCH_LIMIT,
    },
    ["query"],
  ),
  tool(
    "download_file_disk",
    "Get a public URL to download a file. Returns a presigned URL that can be shared or used to access the file.",
    {
      file_path: OPTIONAL_DIRECTORY,
      filename: { type: "string", description: "Filename to get the download URL for." },
      expire: { type: "integer", description: "URL expiration time in seconds. Defaults to 3600 (1 hour)." },
    },
    ["filename"],
  ),
];

/**
 * What the server tells the client about its tools (MCP `instructions`), in place of upstream's
 * context prompts.
 */
export const INSTRUCTIONS = `<sandbox>
The *_sandbox tools work in one isolated Linux sandbox, made on the first call and kept while this session lasts; its working directory is /workspace. Files and background processes persist between calls.
- text_editor_sandbox: view a file before editing it; str_replace needs an old_str that occurs exactly once.
- bash_execution_sandbox: shell commands and scripts; write longer programs to a file and run them. Never run anything that waits for input.
- The user cannot see the sandbox: export result files with export_file_sandbox (zip them when there are many), under unique, descriptive names.
</sandbox>
<disk>
The *_disk tools read and write a disk: persistent file storage shared with the user. It cannot run code.
</disk>`;
