// The exec route's extensions on the wire, as the client sends them and the server reads them
// (extensions.ts names them): a streamed answer of events, and stdin or a terminal as the body.

/** Accept this for a streamed answer: one ExecEvent per line, as the command runs (exec-stream). */
export const NDJSON = "application/x-ndjson";
/** A body of this type is the command's stdin, streamed (exec-stdin); the exec is in EXEC_HEADER. */
export const RAW_STDIN = "application/octet-stream";
/** A body of this type is frames of typed input and resizes (exec-tty); the exec is in EXEC_HEADER. */
export const TERMINAL_BODY = "application/x-acontext-tty";
/** The exec as JSON (ASCII, non-ASCII as \uXXXX escapes) when the body is stdin or a terminal. */
export const EXEC_HEADER = "x-acontext-exec";

/** One line of a streamed answer: output (base64) as it comes, then the exit. */
export type ExecEvent = { type: "stdout" | "stderr"; data: string } | { type: "exit"; exit_code: number; timed_out: boolean };
