// The server's side of a local sandbox's exec agent (agent.pl).
//
// Starting every command through nsenter → setpriv → seccomp → prlimit → chroot costs ~10 ms of
// execs. Instead each sandbox runs one agent, started through that same trusted path (so it has
// exactly the namespaces, cgroups, capabilities, seccomp filter and rlimits of any command, and
// nothing more: sandbox code that takes it over gains nothing; and it is not dumpable, so sandbox
// code cannot ptrace it). It accepts connections on a listening unix socket it inherits as fd 3;
// the socket's file is in the sandbox's host-side state dir, out of the sandbox's sight, mode
// 0600 for the server's user. Per connection a forked handler runs one command, or moves one
// file, or lists one folder, itself (nothing the sandbox could replace is run for that). The
// server trusts nothing the agent sends beyond its own sandbox: the service checks sizes, counts
// and names.
//
// Frames both ways: 1 type byte, a 4-byte big-endian length, the bytes. The first frame to the
// agent names the operation:
//   "h" cwd NUL command NUL K=V NUL …          run a command; then "i" stdin bytes (an empty
//   "t" rows SP cols NUL cwd NUL command NUL …  "i" closes stdin), "w" rows SP cols (a terminal's
//                                              new size); agent → server: "p" the handler's pid,
//                                              "o" stdout, "e" stderr, "x" exit code (128+N for
//                                              signal N)
//   "r" path      read a regular file → "s" its size, "o" bytes…, "x"
//   "W" path      write a regular file ← "i" bytes…, an empty "i" → "x"
//   "l" dir       the regular files under dir → "d" records "SIZE NUL PATH NUL"…, "x"
//   "s" path      what is at path → "x" "file", "dir" or "other"
//   "k" pid       kill everything the command of handler `pid` started
// A failed file operation answers "f" "ERRNO PATH: message" ("notreg" for something that is not a
// regular file). Closing a command's connection kills everything it started; after "x" the agent
// reads until the server closes it.
import { connect, type Socket } from "node:net";
import { Readable } from "node:stream";
import { FrameDecoder, encodeFrame as frame } from "../../protocol/frames.js";
import type { TerminalSize } from "../../protocol/terminal.js";
import { type FileErrorCode, type PathKind, SandboxFileError, type Terminal, type TreeEntry } from "../backend.js";

/** A frame longer than this from the agent is a protocol error (it sends at most 64 KiB of data). */
const MAX_FRAME = 1 << 20;
const STDIN_FRAME = 64 * 1024;
/** How long a killed command's answer waits for the agent to say it has killed what it started. */
const KILL_CONFIRM_MS = 2000;

export interface AgentRequest {
  command: string;
  cwd: string;
  env: Record<string, string>;
  stdin?: Readable;
  /** Run on a pseudo-terminal: one output stream ("stdout"), input as typed. */
  tty?: Terminal;
}

export interface AgentHooks {
  /** May return a promise: the command's output waits until it settles (backpressure). */
  onOutput: (stream: "stdout" | "stderr", chunk: Buffer) => void | Promise<void>;
}

/** Nothing happened: nobody accepts on the socket (the agent is gone), or it hung up at once. */
export class AgentUnreachable extends Error {}

/** One command run by the agent. `done` settles with its exit code, or null if the connection broke. */
export interface AgentRun {
  done: Promise<number | null>;
  /** Ends the command now, and everything it started: closes the connection and asks the agent. */
  kill(): void;
}

function open(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: socketPath });
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      // Refused or missing: the agent is gone; EAGAIN: its backlog is full (stopped, say). Either
      // way a new agent is what helps.
      reject(err.code === "ECONNREFUSED" || err.code === "ENOENT" || err.code === "EAGAIN" ? new AgentUnreachable(err.message) : err);
    });
  });
}

/**
 * Runs one command through the agent listening at `socketPath`. Settles once the command has
 * started (or failed to); a connection that closes before then ran nothing and took no stdin, so
 * it is reported as AgentUnreachable and can be retried. Aborting `signal` before the start
 * rejects with its reason.
 */
export async function agentRun(socketPath: string, request: AgentRequest, hooks: AgentHooks, signal?: AbortSignal): Promise<AgentRun> {
  const socket = await open(socketPath);
  // Until the command has started, giving up closes the connection (a stalled agent cannot hold a caller).
  const giveUp = () => socket.destroy();
  signal?.addEventListener("abort", giveUp, { once: true });
  const env = Object.entries(request.env).map(([k, v]) => `${k}=${v}`);
  const fields = [request.cwd, request.command, ...env];
  const tty = request.tty;
  socket.write(tty ? frame("t", [`${tty.rows} ${tty.cols}`, ...fields].join("\0")) : frame("h", fields.join("\0")));
  // Resizes follow the command frame, ahead of any input; only the latest size waits for a
  // connection that cannot take more (a flood of resizes must not pile up here).
  let latestSize: TerminalSize | undefined;
  const sendSize = () => {
    if (!latestSize || !socket.writable || socket.writableNeedDrain) return;
    socket.write(frame("w", `${latestSize.rows} ${latestSize.cols}`));
    latestSize = undefined;
  };
  socket.on("drain", sendSize);
  tty?.onResize?.((size) => {
    latestSize = size;
    sendSize();
  });

  let handler = 0;
  let exitCode: number | null = null;
  let finished = false;
  const decoder = new FrameDecoder(MAX_FRAME);
  let started: (ok: boolean) => void = () => {};
  const start = new Promise<boolean>((resolve) => (started = resolve));
  const done = new Promise<number | null>((resolve) => {
    socket.on("data", (data: Buffer) => {
      let frames: Frame[];
      try {
        frames = decoder.push(data);
      } catch {
        return socket.destroy();
      }
      for (const { type, data: body } of frames) {
        if (type === "p") {
          handler = Number(body.toString());
          started(true);
        } else if (type === "x") {
          exitCode = Number(body.toString());
          started(true);
        } else if (type === "o" || type === "e") {
          const paused = hooks.onOutput(type === "o" ? "stdout" : "stderr", Buffer.from(body));
          if (paused instanceof Promise) {
            socket.pause();
            paused.finally(() => socket.resume()).catch(() => {});
          }
        }
      }
      if (exitCode !== null) socket.destroy();
    });
    socket.on("error", () => {});
    socket.once("close", () => {
      finished = true;
      started(false);
      resolve(Number.isInteger(exitCode) ? exitCode : null);
    });
  });
  const ok = await start;
  signal?.removeEventListener("abort", giveUp);
  if (signal?.aborted) throw signal.reason;
  if (!ok) throw new AgentUnreachable("the exec agent closed the connection before starting the command");
  sendStdin(socket, request.stdin);
  // A killed command is done once the agent has killed what it started, so that nothing of it
  // outlives the answer (a fork bomb's last children, say).
  let killed: Promise<unknown> = Promise.resolve();
  return {
    done: done.then(async (code) => {
      await killed;
      return code;
    }),
    kill() {
      if (finished) return; // its handler may be gone and its pid reused
      socket.destroy();
      // The handler kills on a closed connection unless it is stuck behind unread stdin; a second
      // connection makes sure, and closes when the agent is through.
      if (handler > 1) {
        killed = open(socketPath)
          .then((killer) => {
            // A sandbox that stopped its own agent never answers: the answer waits a bounded while.
            const giveUp = setTimeout(() => killer.destroy(), KILL_CONFIRM_MS);
            return new Promise((resolve) => {
              killer
                .once("close", resolve)
                .on("error", resolve)
                .end(frame("k", String(handler)));
            }).finally(() => clearTimeout(giveUp));
          })
          .catch(() => {});
      }
    },
  };
}

/** Streams stdin as frames, at the pace the agent takes them; an empty frame closes it. */
function sendStdin(socket: Socket, stdin: Readable | undefined): void {
  if (!stdin) {
    socket.write(frame("i", ""));
    return;
  }
  stdin.on("data", (data: Buffer | string) => {
    const chunk = typeof data === "string" ? Buffer.from(data) : data;
    let ok = true;
    for (let at = 0; at < chunk.length; at += STDIN_FRAME) ok = socket.write(frame("i", chunk.subarray(at, at + STDIN_FRAME)));
    if (!ok) stdin.pause();
  });
  socket.on("drain", () => stdin.resume());
  stdin.once("end", () => socket.writable && socket.write(frame("i", "")));
  stdin.once("error", () => socket.destroy());
  socket.once("close", () => stdin.resume()); // let an unread source drain instead of hanging
}

type Frame = { type: string; data: Buffer };

/** A file operation's connection: its frames as they come, the socket closed when done with. */
async function* operation(socketPath: string, first: Buffer, signal: AbortSignal | undefined): AsyncGenerator<Frame, void, undefined> {
  const socket = await open(socketPath);
  const abort = () => socket.destroy(signal!.reason);
  signal?.addEventListener("abort", abort, { once: true });
  try {
    if (signal?.aborted) throw signal.reason;
    socket.write(first);
    const decoder = new FrameDecoder(MAX_FRAME);
    for await (const chunk of socket) yield* decoder.push(chunk as Buffer);
  } finally {
    signal?.removeEventListener("abort", abort);
    socket.destroy();
  }
}

/** The first frame of an operation; none at all means the agent hung up before doing anything. */
async function firstFrame(frames: AsyncGenerator<Frame>): Promise<Frame> {
  const next = await frames.next();
  if (next.done) throw new AgentUnreachable("the exec agent closed the connection before starting");
  return next.value;
}

function failure(data: Buffer): SandboxFileError {
  const text = data.toString();
  const space = text.indexOf(" ");
  const errno = text.slice(0, space);
  return new SandboxFileError(FILE_ERRORS[errno] ?? "failed", text.slice(space + 1));
}

const FILE_ERRORS: Record<string, FileErrorCode> = {
  notreg: "not-regular",
  "6": "not-regular", // ENXIO: a socket, or a FIFO with no reader
  "2": "not-found", // ENOENT
  "20": "not-directory", // ENOTDIR
  "21": "is-directory", // EISDIR
  "1": "denied", // EPERM
  "13": "denied", // EACCES
  "30": "denied", // EROFS
  "28": "no-space", // ENOSPC
  "122": "no-space", // EDQUOT
};

function unexpected(frame: Frame | undefined): Error {
  return frame ? new Error(`the exec agent sent an unexpected frame "${frame.type}"`) : new Error("the exec agent hung up mid-transfer");
}

/** A regular file's size and bytes, read by the agent; its stream ends early with an error on failure. */
export async function agentReadFile(socketPath: string, path: string, signal?: AbortSignal): Promise<{ size: number; stream: Readable }> {
  const frames = operation(socketPath, frame("r", path), signal);
  const head = await firstFrame(frames);
  if (head.type === "f") throw failure(head.data);
  if (head.type !== "s") throw unexpected(head);
  async function* bytes() {
    for await (const { type, data } of frames) {
      if (type === "o") yield data;
      else if (type === "x") return;
      else throw type === "f" ? failure(data) : unexpected({ type, data });
    }
    throw unexpected(undefined);
  }
  return { size: Number(head.data.toString()), stream: Readable.from(bytes(), { objectMode: false }) };
}

/** Writes a regular file in the sandbox from `source`, its parents made as needed. */
export async function agentWriteFile(socketPath: string, path: string, source: Readable, signal?: AbortSignal): Promise<void> {
  const socket = await open(socketPath);
  const decoder = new FrameDecoder(MAX_FRAME);
  const answer = new Promise<Frame | undefined>((resolve, reject) => {
    socket.on("data", (chunk: Buffer) => {
      try {
        const [first] = decoder.push(chunk);
        if (first) resolve(first);
      } catch (err) {
        reject(err);
      }
    });
    socket.once("close", () => resolve(undefined));
    socket.on("error", () => {});
  });
  const abort = () => socket.destroy();
  signal?.addEventListener("abort", abort, { once: true });
  try {
    socket.write(frame("W", path));
    const sent = (async () => {
      for await (const chunk of source) {
        if (socket.destroyed) return;
        const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
        for (let at = 0; at < bytes.length; at += STDIN_FRAME) {
          if (!socket.write(frame("i", bytes.subarray(at, at + STDIN_FRAME)))) await drained(socket);
        }
      }
      if (!socket.destroyed) socket.write(frame("i", ""));
    })();
    sent.catch(() => {}); // its error counts only when the agent has not answered first
    // The agent may answer before all is sent (it could not open the file): that answer counts.
    const reply = await Promise.race([answer, sent.then(() => answer)]);
    if (signal?.aborted) throw signal.reason;
    if (reply?.type === "f") throw failure(reply.data);
    if (reply?.type !== "x") throw reply ? unexpected(reply) : new AgentUnreachable("the exec agent hung up before writing the file");
    await sent;
  } finally {
    signal?.removeEventListener("abort", abort);
    socket.destroy();
  }
}

/** Until the socket can take more, or is closed. */
function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off("drain", done).off("close", done);
      resolve();
    };
    socket.on("drain", done).on("close", done);
  });
}

/** What is at `path` in the sandbox (links followed there): a file, a folder, something else, or nothing. */
export async function agentStat(socketPath: string, path: string, signal?: AbortSignal): Promise<PathKind> {
  const frames = operation(socketPath, frame("s", path), signal);
  try {
    const answer = await firstFrame(frames);
    if (answer.type === "f") {
      const error = failure(answer.data);
      if (error.code === "not-found" || error.code === "not-directory") return "missing";
      throw error;
    }
    const kind = answer.data.toString();
    if (answer.type !== "x" || (kind !== "file" && kind !== "dir" && kind !== "other")) throw unexpected(answer);
    return kind;
  } finally {
    await frames.return(undefined);
  }
}

/**
 * The regular files under `dir` as the agent finds them, in batches, unsorted and unchecked (the
 * caller bounds and checks them). Stopping the iteration ends the listing in the sandbox.
 */
export async function* agentListFiles(socketPath: string, dir: string, signal?: AbortSignal): AsyncGenerator<TreeEntry[], void, undefined> {
  const frames = operation(socketPath, frame("l", dir), signal);
  let next = await firstFrame(frames);
  for (;;) {
    if (next.type === "x") return;
    if (next.type === "f") throw failure(next.data);
    if (next.type !== "d") throw unexpected(next);
    yield records(next.data);
    const following = await frames.next();
    if (following.done) throw unexpected(undefined);
    next = following.value;
  }
}

/** "SIZE NUL PATH NUL" records. */
function records(data: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  for (let at = 0; at < data.length; ) {
    const sizeEnd = data.indexOf(0, at);
    const pathEnd = sizeEnd < 0 ? -1 : data.indexOf(0, sizeEnd + 1);
    if (pathEnd < 0) throw new Error("the exec agent sent a malformed listing");
    entries.push({ size: Number(data.toString("latin1", at, sizeEnd)), path: data.subarray(sizeEnd + 1, pathEnd) });
    at = pathEnd + 1;
  }
  return entries;
}
