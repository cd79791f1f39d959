// The server's side of a container's reaper (reaper.pl): started with the container, told which
// exec to end, answering when nothing of it is left.
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import reaperProgram from "./reaper.pl";

/** How long a reaper has to answer before the backend ends the exec another way. */
const REAP_ANSWER_MS = 2000;

export class Reaper {
  private pending = "";
  private readonly waiting = new Map<string, () => void>();
  private gone = false;

  private constructor(private readonly stream: Duplex) {}

  /** The reaper of `container`, as the user commands run as; none where the image has no perl. */
  static async start(
    container: Docker.Container,
    user: string,
    demultiplex: (stream: Duplex, onStdout: (chunk: Buffer) => void) => Promise<void>,
  ): Promise<Reaper | undefined> {
    try {
      const exec = await container.exec({
        Cmd: ["/usr/bin/perl", "-"],
        Env: ["PATH=/usr/bin:/bin"],
        User: user,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
      });
      const stream = await exec.start({ hijack: true, stdin: true });
      const reaper = new Reaper(stream);
      stream.write(`${reaperProgram}\n__END__\n`);
      demultiplex(stream, (chunk) => reaper.read(chunk))
        .catch(() => {})
        .finally(() => reaper.end());
      return reaper;
    } catch {
      return undefined;
    }
  }

  /**
   * Ends everything of the exec marked `marker`; false if the reaper is gone (killed by sandbox
   * code, say) or does not answer in time (stopped by it: it runs as the sandbox's user).
   */
  reap(marker: string): Promise<boolean> {
    if (this.gone) return Promise.resolve(false);
    return new Promise((resolve) => {
      const silent = setTimeout(() => {
        this.waiting.delete(marker);
        resolve(false);
      }, REAP_ANSWER_MS);
      this.waiting.set(marker, () => {
        clearTimeout(silent);
        resolve(!this.gone);
      });
      this.stream.write(`${marker}\n`);
    });
  }

  close(): void {
    this.stream.destroy();
  }

  private read(chunk: Buffer): void {
    this.pending += chunk.toString("latin1");
    for (let newline = this.pending.indexOf("\n"); newline >= 0; newline = this.pending.indexOf("\n")) {
      const line = this.pending.slice(0, newline);
      this.pending = this.pending.slice(newline + 1);
      const marker = line.startsWith("done ") ? line.slice(5) : "";
      this.waiting.get(marker)?.();
      this.waiting.delete(marker);
    }
  }

  private end(): void {
    this.gone = true;
    for (const answer of this.waiting.values()) answer();
    this.waiting.clear();
  }
}
