import { resolve } from "node:path";
import { Command } from "commander";
import { formatSize } from "../../shared/units.js";
import { defaultDataDir } from "../defaults.js";
import { print, printJson } from "../output.js";

export function serverStatusCommand(): Command {
  return new Command("status")
    .description("show the running server: URL, pid, data dir, uptime, counts")
    .option("--data-dir <dir>", "the server's data dir")
    .option("--json", "print the status as JSON")
    .addHelpText("after", "\nExamples:\n  $ acontext server status\n  $ acontext server status --json | jq .sandboxes")
    .action(async (flags: { dataDir?: string; json?: boolean }) => {
      const dataDir = resolve(flags.dataDir ?? defaultDataDir());
      const { serverStatus } = await import("../server-control.js");
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
        ["limits", requestLimits(status.limits as Record<string, number> | undefined)],
        ["sandboxes", sandboxSummary(status.sandboxes as Record<string, unknown> | undefined).join(`\n${" ".repeat(11)}`)],
        ["version", status.version],
      ];
      for (const [name, value] of rows) print(`${name.padEnd(10)} ${value}`);
    });
}

/** "uploads 1 GiB, JSON bodies 2 MiB, grep 5 s" (older servers do not say). */
function requestLimits(limits: Record<string, number> | undefined): string {
  if (!limits) return "unknown";
  const parts = [
    `uploads ${formatSize(limits.max_upload_bytes!)}`,
    `disks ${formatSize(limits.disk_quota_bytes!)} each`,
    `JSON bodies ${formatSize(limits.max_body_bytes!)}`,
    `grep ${limits.grep_timeout_seconds} s`,
  ];
  if (limits.transfer_timeout_seconds) parts.push(`sandbox transfers ${limits.transfer_timeout_seconds / 60} min and ${limits.max_listed_files} files`);
  return parts.join(", ");
}

/** "local: 2 running of 5, 1 kept warm" and its limits, or why there are none. */
function sandboxSummary(info: Record<string, unknown> | undefined): string[] {
  if (!info) return ["unknown"];
  if (info.unavailable) return [`unavailable: ${info.unavailable}`];
  const limits = Object.entries((info.limits as Record<string, string>) ?? {}).map(([name, how]) => `${name}: ${how}`);
  return [
    `${info.backend}: ${info.running} running of ${info.total}, ${info.warm ?? 0} kept warm`,
    `isolation: ${info.isolation}`,
    ...limits,
    `network: ${info.network}`,
  ];
}
