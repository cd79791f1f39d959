// What our server adds to the Acontext API, by name. The server lists them in a response header
// on every answer; the client learns them from any answer (or a ping) and falls back to the
// upstream shape where one is missing, so the CLI works against any Acontext API.
export const EXTENSIONS_HEADER = "x-acontext-extensions";

export const EXTENSIONS = [
  /** POST /sandbox/{id}/exec with Accept: application/x-ndjson streams output as it comes. */
  "exec-stream",
  /** The same route with an application/octet-stream body streams it to the command's stdin. */
  "exec-stdin",
  /** exec's cwd, env and timeout fields. */
  "exec-options",
  /**
   * exec on a pseudo-terminal: `tty: {rows, cols}` in the X-Acontext-Exec header and an
   * application/x-acontext-tty body of frames, typed input ("i") and resizes ("w", "ROWS COLS").
   */
  "exec-tty",
  /** download_to_sandbox / upload_from_sandbox with `recursive: true`: a whole folder in one call. */
  "transfer-tree",
  /**
   * GET/PUT /sandbox/{id}/file?path= (a file's raw bytes), GET /sandbox/{id}/files?path= (the files
   * under a folder) and GET /sandbox/{id}/stat?path= (`{type: "file"|"dir"|"other"|"missing"}`).
   */
  "sandbox-files",
] as const;

export type Extension = (typeof EXTENSIONS)[number];
