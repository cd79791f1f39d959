// What one MCP client gets: a sandbox, made on its first sandbox tool call (or the one named with
// --sandbox) and kept alive while the client is connected, replaced when it is found gone; and a
// disk, made on first use (or the one named with --disk), which outlives the session. Closing
// kills the sandboxes this session made, never one it was given.
import type { AcontextClient } from "../client/client.js";
import { ToolError } from "./args.js";
import { asApiError, isConnectionError } from "./errors.js";

export interface SessionOptions {
  client: AcontextClient;
  /** A disk to use instead of making one. */
  diskId?: string;
  /** A sandbox to use instead of making one; not killed at the end. */
  sandboxId?: string;
  network?: boolean;
  /** Seconds a made sandbox may sit idle (the API's default otherwise). */
  keepaliveSeconds?: number;
  /** A line for the log (stderr). */
  log: (line: string) => void;
  /**
   * A new client when the API refused a connection: for the local server, which the CLI starts
   * again on demand (it is gone after `acontext server stop`, and its sandboxes with it).
   */
  reconnect?: () => Promise<AcontextClient>;
}

interface Sandbox {
  id: string;
  /** Made here, so killed here. */
  owned: boolean;
}

/** A value, and a note for the model when the sandbox had to be replaced on the way. */
export interface WithNote<T> {
  value: T;
  note?: string;
}

/** How often the keepalive runs, as a share of the sandbox's keepalive. */
const HEARTBEATS_PER_KEEPALIVE = 3;
const DEFAULT_KEEPALIVE_SECONDS = 600;

export class Session {
  /** The API; replaced by `reconnect()`, so read it at each use. */
  client: AcontextClient;
  private reconnecting: Promise<boolean> | undefined;
  private sandbox: Promise<Sandbox> | undefined;
  /** Every sandbox made here (replaced ones too): all are killed at the end. */
  private readonly made = new Set<string>();
  /** Set by the keepalive when it finds the sandbox gone: the next call replaces it. */
  private gone: string | undefined;
  private disk: Promise<string> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private beating = false;
  private closed = false;
  /** Aborted at close: commands in flight stop. */
  private readonly ending = new AbortController();

  constructor(private readonly options: SessionOptions) {
    this.client = options.client;
    if (options.diskId) this.disk = Promise.resolve(options.diskId);
    if (options.sandboxId) {
      this.sandbox = Promise.resolve({ id: options.sandboxId, owned: false });
      this.adopt(options.sandboxId);
    }
  }

  /** Keeps a given sandbox alive too, at the pace its own keepalive needs where the API says it. */
  private adopt(id: string): void {
    const fallback = this.options.keepaliveSeconds ?? DEFAULT_KEEPALIVE_SECONDS;
    this.startHeartbeat(id, fallback);
    this.client
      .supports("exec-options")
      .then(async (ours) => {
        const keepalive = ours ? (await this.client.getSandbox(id)).keepalive_seconds : undefined;
        if (keepalive && !this.closed && this.gone !== id && (await this.sandbox)?.id === id) this.startHeartbeat(id, keepalive);
      })
      .catch(() => {
        // The first call finds out what is wrong with it.
      });
  }

  /** Aborted when the session closes. */
  get signal(): AbortSignal {
    return this.ending.signal;
  }

  /** The disk's id, made on first use. */
  diskId(): Promise<string> {
    this.disk ??= this.client.createDisk().then(
      (disk) => {
        this.options.log(`created disk ${disk.id} (it stays: files exported and written there outlive this session)`);
        return disk.id;
      },
      (err: unknown) => {
        this.disk = undefined; // the next call tries again
        throw err;
      },
    );
    return this.disk;
  }

  /**
   * Runs `op` on the sandbox, made first if there is none. If `op` fails and the sandbox turns out
   * to be gone (killed, expired, its server restarted), a new one replaces it, `op` runs there, and
   * the answer carries a note that says so.
   */
  async withSandbox<T>(op: (sandboxId: string) => Promise<T>): Promise<WithNote<T>> {
    let note: string | undefined;
    let sandbox = await this.current();
    if (this.gone === sandbox.id) {
      note = await this.replace(sandbox.id);
      sandbox = await this.current();
    }
    try {
      return { value: await op(sandbox.id), note };
    } catch (err) {
      if (this.closed || err instanceof ToolError || (await this.alive(sandbox.id))) throw err;
      note = await this.replace(sandbox.id);
      return { value: await op((await this.current()).id), note };
    }
  }

  private current(): Promise<Sandbox> {
    if (this.closed) return Promise.reject(new Error("the MCP session is closing"));
    this.sandbox ??= this.create();
    return this.sandbox;
  }

  private async create(): Promise<Sandbox> {
    const { keepaliveSeconds, network } = this.options;
    const info = await this.client
      .createSandbox({ ...(keepaliveSeconds ? { keepalive_seconds: keepaliveSeconds } : {}), ...(network ? { network: true } : {}) })
      .catch((err: unknown) => {
        this.sandbox = undefined; // the next call tries again
        throw err;
      });
    this.made.add(info.sandbox_id);
    for (const warning of info.warnings ?? []) this.options.log(`warning: ${warning}`);
    // The keepalive the API gave it, which an upstream API does not let us choose.
    const given = (Date.parse(info.sandbox_expires_at) - Date.parse(info.sandbox_created_at)) / 1000;
    const keepalive = keepaliveSeconds ?? (Number.isFinite(given) && given > 0 ? given : DEFAULT_KEEPALIVE_SECONDS);
    this.options.log(`created sandbox ${info.sandbox_id}`);
    if (this.closed) {
      // Closed while it was being made: it goes at once.
      await this.kill(info.sandbox_id);
      throw new Error("the MCP session is closing");
    }
    this.startHeartbeat(info.sandbox_id, keepalive);
    return { id: info.sandbox_id, owned: true };
  }

  /** Replaces a gone sandbox (once, however many calls found it gone); returns the note for the model. */
  private async replace(goneId: string): Promise<string> {
    const current = await this.sandbox?.catch(() => undefined);
    if (current?.id === goneId) {
      this.options.log(`sandbox ${goneId} is gone (killed or expired); making a new one`);
      this.stopHeartbeat();
      // In case it was only unreachable for a moment: it must not outlive the session.
      if (current.owned) void this.kill(goneId, true);
      this.sandbox = undefined;
      if (this.gone === goneId) this.gone = undefined;
    }
    const next = await this.current();
    return (
      `note: the sandbox ${goneId} was gone (killed or expired), so this ran in a new sandbox ${next.id}. ` +
      "Files and processes of the old sandbox are lost; re-create what you need."
    );
  }

  /** Whether a sandbox still runs. A failure to reach the API is not an answer: it is thrown. */
  private async alive(id: string): Promise<boolean> {
    try {
      if (await this.client.supports("exec-options")) return (await this.client.getSandbox(id)).sandbox_status === "running";
      // An upstream API has no sandbox info: a trivial command answers.
      return (await this.client.exec(id, { command: "true" }, { onOutput: () => {} })) === 0;
    } catch (err) {
      if (isConnectionError(err)) throw err;
      if (asApiError(err)) return false;
      throw err;
    }
  }

  /**
   * Keeps the sandbox alive while the client is connected, with a beat every third of its
   * keepalive. Our API: the expiry is pushed to now + keepalive (never further, so a session
   * that dies without closing leaves the sandbox to expire soon). Upstream: every command pushes
   * it, so a trivial one does.
   */
  private startHeartbeat(id: string, keepaliveSeconds: number): void {
    this.stopHeartbeat();
    const interval = Math.max(1, keepaliveSeconds / HEARTBEATS_PER_KEEPALIVE) * 1000;
    this.heartbeat = setInterval(() => {
      if (this.beating || this.closed) return;
      this.beating = true;
      this.beat(id, keepaliveSeconds)
        .catch((err: Error) => this.options.log(`keepalive of sandbox ${id} failed: ${err.message}`))
        .finally(() => {
          this.beating = false;
        });
    }, interval);
    this.heartbeat.unref();
  }

  private async beat(id: string, keepaliveSeconds: number): Promise<void> {
    if (await this.client.supports("exec-options")) {
      const info = await this.client.getSandbox(id).catch((err: unknown) => {
        if (asApiError(err)?.status === 404) return undefined;
        throw err;
      });
      if (info?.sandbox_status !== "running") return this.foundGone(id);
      const left = (Date.parse(info.sandbox_expires_at) - Date.now()) / 1000;
      const add = Math.ceil(keepaliveSeconds - left);
      if (add >= 1) await this.client.extendSandbox(id, add);
      return;
    }
    if (!(await this.alive(id))) this.foundGone(id);
  }

  private foundGone(id: string): void {
    if (this.gone === id) return;
    this.options.log(`sandbox ${id} is gone (killed or expired); the next sandbox tool call makes a new one`);
    this.gone = id;
    this.stopHeartbeat();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /**
   * After a refused connection: a new client where the session can get one (the local server,
   * started again). True when it did; the caller tries once more.
   */
  async reconnect(err: unknown): Promise<boolean> {
    if (!this.options.reconnect || this.closed || !isConnectionError(err) || err.reason !== "ECONNREFUSED") return false;
    this.reconnecting ??= this.options
      .reconnect()
      .then((client) => {
        this.options.log(`reconnected to ${client.baseUrl}`);
        this.client = client;
        return true;
      })
      .catch((failed: Error) => {
        this.options.log(`could not reconnect: ${failed.message}`);
        return false;
      })
      .finally(() => {
        this.reconnecting = undefined;
      });
    return this.reconnecting;
  }

  /** Ends the session: commands in flight stop, and the sandboxes made here are killed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopHeartbeat();
    this.ending.abort();
    // A sandbox being made is killed as soon as it exists (create() sees `closed`).
    await this.sandbox?.catch(() => undefined);
    await Promise.all([...this.made].map((id) => this.kill(id)));
  }

  private async kill(id: string, quietly = false): Promise<void> {
    this.made.delete(id);
    try {
      await this.client.killSandbox(id);
      if (!quietly) this.options.log(`killed sandbox ${id}`);
    } catch (err) {
      // Already gone is fine (404 here, 500 upstream); anything else is worth a line.
      const status = asApiError(err)?.status;
      if (!quietly && status !== 404 && status !== 500) this.options.log(`could not kill sandbox ${id}: ${(err as Error).message}`);
    }
  }
}
