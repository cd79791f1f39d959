// `acontext sandbox start`: choose or create a sandbox project, install it, run its dev server.
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { CliError, UsageError } from "../cli/errors.js";
import { debug, isInteractive, say, style } from "../cli/output.js";
import { dockerMissingError, checkNodeVersion, dockerRunning, nodeVersionOnPath } from "./prereqs.js";
import {
  findOnPath,
  installedPackageManagers,
  installHint,
  packageManagerChoices,
  resolvePackageManager,
  runScriptCommand,
  type PackageManager,
} from "./package-manager.js";
import { hasNodeModules, readPackageJson, scanProjects, detectKind, type SandboxProject } from "./projects.js";
import {
  copyTemplate,
  defaultProjectName,
  fetchRemoteTemplate,
  isRemoteTemplate,
  listBundledTemplates,
  prepareTarget,
  validateProjectName,
  type BundledTemplate,
} from "./templates.js";
import { trapSignals } from "../cli/signals.js";

export interface StartOptions {
  /** Positional: a project folder under `dir`, or a bundled template's name. */
  project?: string;
  template?: string;
  /** Folder name for a new project. */
  name?: string;
  /** Root that holds sandbox projects. */
  dir: string;
  pm?: PackageManager;
  port: number;
  /** undefined: install when node_modules is missing. */
  install?: boolean;
  containers: boolean;
  start: boolean;
  force: boolean;
  yes: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface StartedProject {
  name: string;
  /** Path relative to the working directory. */
  path: string;
  kind: string;
  created: boolean;
  installed: boolean;
  packageManager: PackageManager;
  /** What chose the package manager. */
  packageManagerSource: string;
}

export interface StartResult {
  project: StartedProject;
  /** Set when the dev server ran: the CLI's exit code and how it ended. */
  server?: { exitCode: number; reason: "stopped" | "exited" };
}

type Choice = { type: "local"; project: SandboxProject } | { type: "create"; template: string; name: string };

export async function startSandbox(
  options: StartOptions,
  onReady: (url: string, project: StartedProject) => void,
): Promise<StartResult> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const root = resolve(cwd, options.dir);
  const show = (path: string) => relative(cwd, path) || ".";
  const interactive = !options.yes && isInteractive(env);
  const templates = await listBundledTemplates();

  // 1. Which project: a local one, or a new one from a template.
  const choice = await chooseProject(options, root, templates, interactive, show);
  let dir: string;
  let created = false;
  if (choice.type === "local") {
    dir = choice.project.dir;
  } else {
    dir = await createProject(choice, root, templates, options.force, show);
    created = true;
  }
  const name = choice.type === "local" ? choice.project.name : choice.name;
  const kind = detectKind(await readdir(dir))!;
  const pkg = await readPackageJson(dir);

  // 2. Package manager.
  const installed = installedPackageManagers(env);
  const detection = resolvePackageManager({
    flag: options.pm,
    packageManagerField: pkg.packageManager,
    files: await readdir(dir),
    userAgent: env.npm_config_user_agent,
    installed,
  });
  debug(`package manager ${detection.pm} from ${detection.source}; installed: ${installed.join(", ") || "none"}`);
  let { pm } = detection;
  const weakSource = ["npm_config_user_agent", "installed", "default"].includes(detection.source);
  const choices = packageManagerChoices(pm, installed);
  if (interactive && weakSource && choices.length > 1) {
    const { select } = await import("@inquirer/prompts");
    pm = await select<PackageManager>(
      { message: "Package manager", choices: choices.map((value) => ({ value, name: value })), default: pm },
      { output: process.stderr },
    );
  } else if (!findOnPath(pm, env)) {
    throw new CliError(`${show(dir)} uses ${pm} (from ${detection.source}), but ${pm} is not installed`, {
      hint: `install it: ${installHint(pm)}; or choose another with --pm ${choices[0] ?? "npm"}`,
    });
  }
  const project: StartedProject = {
    name,
    path: show(dir),
    kind: kind.name,
    created,
    installed: false,
    packageManager: pm,
    packageManagerSource: pm === detection.pm ? detection.source : "prompt",
  };
  const willInstall = options.install ?? !hasNodeModules(dir);
  debug(`project ${show(dir)} (${kind.name}); install: ${willInstall}; start: ${options.start}`);

  // 3. Prerequisites, before anything slow.
  let containers = options.containers;
  if (willInstall || options.start) {
    const nodeVersion = await nodeVersionOnPath(env);
    debug(`node on PATH: ${nodeVersion ?? "none"}; engines.node: ${pkg.engines?.node ?? "any"}`);
    const nodeError = await checkNodeVersion(pkg.engines?.node, nodeVersion, show(dir));
    if (nodeError) throw nodeError;
  }
  if (options.start && kind.needsDocker && containers && !(await dockerRunning(env))) {
    const error = dockerMissingError(
      options.port,
      `acontext sandbox start ${name} --no-containers${options.dir === "sandbox" ? "" : ` --dir ${options.dir}`}${options.port === 8787 ? "" : ` --port ${options.port}`}`,
    );
    if (!interactive) throw error;
    say(error.message);
    const { confirm } = await import("@inquirer/prompts");
    const go = await confirm({ message: "Start the Worker without containers?", default: false }, { output: process.stderr });
    if (!go) throw new CliError("Docker is not running", { hint: error.hint });
    containers = false;
  }
  if (options.start && kind.needsDocker && !containers) {
    say(
      style("yellow", "containers are off:") +
        ' the Worker starts, but every sandbox call fails with "Containers have not been enabled for this Durable Object class"',
    );
  }

  const trap = trapSignals();
  try {
    // 4. Dependencies.
    const prefix = style("cyan", `[${name}]`);
    if (willInstall) {
      const { installDependencies } = await import("./install.js");
      await installDependencies({ pm, dir, display: show(dir), env, prefix, signal: trap.signal });
      project.installed = true;
    }
    if (!options.start) return { project };

    // 5. The dev server.
    if (!pkg.scripts?.dev) {
      throw new CliError(`${show(dir)}/package.json has no "dev" script`, {
        hint: 'add one, e.g. "dev": "wrangler dev"',
      });
    }
    const { assertPortFree, runDevServer } = await import("./dev-server.js");
    await assertPortFree(options.port);
    const { command, args } = runScriptCommand(pm, "dev", kind.devArgs({ port: options.port, containers }));
    say(`${style("dim", "starting")} ${[command, ...args].join(" ")} ${style("dim", `in ${show(dir)}`)}`);
    const server = await runDevServer({
      command,
      args,
      cwd: dir,
      env: devServerEnv(env, options.port),
      port: options.port,
      prefix,
      signal: trap.signal,
      hurry: trap.again,
      onReady: (url) => onReady(url, project),
    });
    return { project, server };
  } finally {
    trap.dispose();
  }
}

async function chooseProject(
  options: StartOptions,
  root: string,
  templates: BundledTemplate[],
  interactive: boolean,
  show: (path: string) => string,
): Promise<Choice> {
  const projects = await scanProjects(root);
  const templateNames = templates.map((t) => t.name);
  const knownTemplate = (spec: string) => {
    if (isRemoteTemplate(spec) || templateNames.includes(spec)) return spec;
    throw new UsageError(
      `unknown template "${spec}"`,
      `bundled templates: ${templateNames.join(", ")}; remote ones look like github:owner/repo/dir#ref or git:./local-repo`,
    );
  };

  if (options.template) {
    const template = knownTemplate(options.template);
    return { type: "create", template, name: options.name ?? options.project ?? defaultProjectName(template) };
  }
  if (options.project) {
    const local = projects.find((p) => p.name === options.project);
    if (local) return { type: "local", project: local };
    if (templateNames.includes(options.project)) {
      return { type: "create", template: options.project, name: options.name ?? options.project };
    }
    throw new UsageError(
      `no sandbox project "${options.project}" in ${show(root)}/ and no template of that name`,
      listing(projects, templateNames, show),
    );
  }
  if (options.name) {
    throw new UsageError("--name names a new project: say which template to create it from", "add --template cloudflare");
  }

  if (!interactive) {
    if (options.yes && projects.length === 1) return { type: "local", project: projects[0]! };
    if (options.yes && projects.length === 0) {
      return { type: "create", template: templateNames[0]!, name: templateNames[0]! };
    }
    throw new UsageError(
      options.yes
        ? `${projects.length} sandbox projects in ${show(root)}/: say which one to start`
        : "no project chosen, and no terminal to ask",
      `pass a project name (acontext sandbox start NAME) or --template TEMPLATE [--name NAME], with --pm, --port, --yes, --force, --no-install, --no-containers or --no-start as needed; ${listing(projects, templateNames, show)}`,
    );
  }

  const { select, input } = await import("@inquirer/prompts");
  const picked = await select<Choice | { type: "template"; template: string }>(
    {
      message: "Select a sandbox project",
      choices: [
        ...projects.map((project) => ({
          name: `${project.name} (Local) – ${show(project.dir)}`,
          value: { type: "local" as const, project },
        })),
        ...templates.map((t) => ({
          name: `${t.name} (Create)`,
          value: { type: "template" as const, template: t.name },
          description: t.description,
        })),
      ],
    },
    { output: process.stderr },
  );
  if (picked.type !== "template") return picked;
  const taken = new Set(projects.map((p) => p.name));
  const name = await input(
    {
      message: "Project folder name",
      default: uniqueName(picked.template, (n) => taken.has(n) || existsSync(join(root, n))),
      validate: (value) =>
        validateProjectName(value) ??
        (existsSync(join(root, value)) && !options.force ? `${show(join(root, value))} already exists` : true),
    },
    { output: process.stderr },
  );
  return { type: "create", template: picked.template, name };
}

async function createProject(
  choice: { template: string; name: string },
  root: string,
  templates: BundledTemplate[],
  force: boolean,
  show: (path: string) => string,
): Promise<string> {
  const invalid = validateProjectName(choice.name);
  if (invalid) throw new UsageError(invalid, "use --name with a plain folder name, e.g. --name my-worker");
  const target = join(root, choice.name);
  await prepareTarget(target, force, show(target));
  if (isRemoteTemplate(choice.template)) {
    say(`fetching template ${choice.template}`);
    const remote = await fetchRemoteTemplate(choice.template);
    try {
      await copyTemplate(remote.dir, target, choice.name);
    } finally {
      await remote.cleanup();
    }
  } else {
    const bundled = templates.find((t) => t.name === choice.template)!;
    await copyTemplate(bundled.dir, target, choice.name);
  }
  say(`created ${show(target)} from template ${choice.template}`);
  return target;
}

/** The dev server's environment: PORT for servers that read it, colour kept through our pipe. */
function devServerEnv(env: NodeJS.ProcessEnv, port: number): NodeJS.ProcessEnv {
  const colour = process.stderr.isTTY && !env.NO_COLOR && env.FORCE_COLOR === undefined ? { FORCE_COLOR: "1" } : {};
  return { ...env, PORT: String(port), ...colour };
}

function uniqueName(base: string, taken: (name: string) => boolean): string {
  if (!taken(base)) return base;
  for (let i = 2; ; i++) if (!taken(`${base}-${i}`)) return `${base}-${i}`;
}

function listing(projects: SandboxProject[], templates: string[], show: (path: string) => string): string {
  const local = projects.length ? projects.map((p) => `${p.name} (${show(p.dir)})`).join(", ") : "none";
  return `projects: ${local}; templates: ${templates.join(", ")}`;
}
