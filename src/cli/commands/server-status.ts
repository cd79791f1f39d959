import { resolve } from "node:path";
import { Command } from "commander";
import { defaultDataDir } from "../defaults.js";
import { print, printJson } from "../output.js";
import { formatSize } from "../units.js";

export function serverStatusCommand(): Command {
  return new Command("status")
    .description("show the running server: URL, pid, data dir, uptime, counts")
    .option("--data-dir <dir>", "the server's data dir")
    .option("--json", "print the status as JSON")
    .action(async (flags: { dataDir?: string; json?: boolean }) => {
      const dataDir = resolve(flags.dataDir ?? defaultDataDir());
      const { serverStatus } = await import("../../server/control.js");
      const status = await serverStatus(dataDir);
      if (flags.json) {
        printJson(status);
        return;
      }
      const rows: Array<[string, unknown]> = [
        ["url", status.url],
        ["pid", status.pid],
        ["data dir", status.data_dir],
        ["uptime", `${status.uptime_seconds}s`],
        ["disks", status.disks],
        ["artifacts", status.artifacts],
        ["stored", formatSize(Number(status.bytes))],
        ["sandboxes", sandboxSummary(status.sandboxes as Record<string, unknown> | undefined).join(`\n${" ".repeat(11)}`)],
        ["version", status.version],
      ];
      for (const [name, value] of rows) print(`${name.padEnd(10)} ${value}`);
    });
}

/** "local: 2 running of 5, 1 kept warm" and its limits, or why there are none. */
function sandboxSummary(info: Record<string, unknown> | undefined): string[] {
  if (!info) return ["unknown"];
  if (info.unavailable) return [`unavailable: ${info.unavailable}`];
  const limits = Object.entries((info.limits as Record<string, string>) ?? {}).map(([name, how]) => `${name}: ${how}`);
  return [`${info.backend}: ${info.running} running of ${info.total}, ${info.warm ?? 0} kept warm`, `isolation: ${info.isolation}`, ...limits, `network: ${info.network}`];
}
