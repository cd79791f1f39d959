import { Command, Option } from "commander";
import { PACKAGE_MANAGERS, type PackageManager } from "../../scaffold/package-manager.js";
import { parsePort } from "../flags.js";
import { print, printJson, printJsonLine, say, style } from "../output.js";

interface Flags {
  template?: string;
  name?: string;
  dir: string;
  pm?: PackageManager;
  port: number;
  install?: boolean;
  containers: boolean;
  start: boolean;
  force?: boolean;
  yes?: boolean;
  json?: boolean;
}

export function sandboxStartCommand(): Command {
  return new Command("start")
    .description("start a sandbox worker project from ./sandbox/, or create one from a template")
    .argument("[project]", "project folder under --dir to start, or a bundled template to create")
    .option("-t, --template <template>", "create from a bundled template (cloudflare) or a remote one (github:owner/repo/dir#ref, git:./repo, …)")
    .option("--name <name>", "folder name for the new project (default: the template's name)")
    .option("--dir <path>", "folder that holds sandbox projects", "sandbox")
    .addOption(new Option("--pm <manager>", "package manager to use").choices(PACKAGE_MANAGERS))
    .option("-p, --port <port>", "port for the dev server", parsePort, 8787)
    .option("--install", "install dependencies even if node_modules exists")
    .option("--no-install", "do not install dependencies")
    .option("--no-containers", "start the Cloudflare Worker without containers (no Docker; sandbox calls then fail)")
    .option("--no-start", "create and install, but do not start the dev server")
    .option("-f, --force", "overwrite a non-empty project folder")
    .option("-y, --yes", "never prompt: take the defaults")
    .option("--json", "print results as JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ acontext sandbox start                          # pick a project or a template
  $ acontext sandbox start cloudflare               # start sandbox/cloudflare (created if missing)
  $ acontext sandbox start --template cloudflare --name my-worker --pm pnpm --no-start
  $ acontext sandbox start --template github:owner/repo/path#main
  $ acontext sandbox start cloudflare --no-containers --port 8788

Exit codes: 0 ok, 1 failure, 2 usage, 130 stopped with Ctrl-C (143 with SIGTERM),
or the dev server's own code when it exits by itself.`,
    )
    .action(async (project: string | undefined, flags: Flags) => {
      const { startSandbox } = await import("../start-project.js");
      const result = await startSandbox(
        {
          project,
          template: flags.template,
          name: flags.name,
          dir: flags.dir,
          pm: flags.pm,
          port: flags.port,
          install: flags.install,
          containers: flags.containers,
          start: flags.start,
          force: Boolean(flags.force),
          yes: Boolean(flags.yes),
        },
        (url, started) => {
          if (flags.json) printJsonLine({ event: "ready", url, ...started });
          else print(`ready: ${url}`);
          say(style("dim", "press Ctrl-C to stop"));
        },
      );
      if (!result.server) {
        if (flags.json) printJson(result.project);
        else say(`next: acontext sandbox start ${result.project.name}${flags.dir === "sandbox" ? "" : ` --dir ${flags.dir}`}`);
        return;
      }
      if (result.server.reason === "stopped") say(style("dim", "stopped"));
      process.exitCode = result.server.exitCode;
    });
}
