// `acontext sandbox start`: choose or create a sandbox project, install it, run its dev server.
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { delimiter, join, relative, resolve } from "node:path";
import { stripVTControlCharacters } from "node:util";
import {
  installCommand,
  installedPackageManagers,
  installHint,
  type PackageManager,
  packageManagerChoices,
  resolvePackageManager,
  runScriptCommand,
} from "../scaffold/package-manager.js";
import { dockerMissingError, dockerRunning, nodeTooOld, nodeVersionOnPath } from "../scaffold/prereqs.js";
import { detectKind, hasNodeModules, readPackageJson, type SandboxProject, scanProjects } from "../scaffold/projects.js";
import {
  type BundledTemplate,
  copyTemplate,
  defaultProjectName,
  fetchRemoteTemplate,
  isRemoteTemplate,
  listBundledTemplates,
  prepareTarget,
  validateProjectName,
} from "../scaffold/templates.js";
import { CancelledError, ExpectedError, UsageError } from "../shared/errors.js";
import { findOnPath } from "../shared/processes.js";
import { colorEnabled, debug, isInteractive, say, sayPrefixed, style } from "./output.js";
import { trapSignals } from "./signals.js";

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

export async function startSandbox(options: StartOptions, onReady: (url: string, project: StartedProject) => void): Promise<StartResult> {
  const cwd = options.cwd ?? process.cwd();
  let env = options.env ?? process.env;
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
    throw new ExpectedError(`${show(dir)} uses ${pm} (from ${detection.source}), but ${pm} is not installed`, {
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
  let nodeVersion: string | undefined;
  let needsNode = false;
  if (willInstall || options.start) {
    nodeVersion = await nodeVersionOnPath(env);
    debug(`node on PATH: ${nodeVersion ?? "none"}; engines.node: ${pkg.engines?.node ?? "any"}`);
    needsNode = await nodeTooOld(pkg.engines?.node, nodeVersion);
  }
  if (options.start && kind.needsDocker && containers && !(await dockerRunning(env))) {
    const error = dockerMissingError(
      options.port,
      `acontext sandbox start ${name} --no-containers${options.dir === "sandbox" ? "" : ` --dir ${options.dir}`}${options.port === 8787 ? "" : ` --port ${options.port}`}`,
    );
    const { projectAnswers, rememberAnswers, answersFile } = await import("../scaffold/answers.js");
    if ((await projectAnswers(dir, env)).withoutContainers) {
      // Asked once per project: the answer stands until Docker runs (or the file is removed).
      say(style("dim", `Docker is not running: going on without containers, as you chose for ${show(dir)} (kept in ${answersFile(env)})`));
    } else {
      if (!interactive) throw error;
      say(error.message);
      const { confirm } = await import("@inquirer/prompts");
      const go = await confirm({ message: "Start the Worker without containers? (remembered for this project)", default: false }, { output: process.stderr });
      if (!go) throw new ExpectedError("Docker is not running", { hint: error.hint });
      await rememberAnswers(dir, { withoutContainers: true }, env);
    }
    containers = false;
  }
  if (options.start && kind.needsDocker && !containers) {
    say(
      style("yellow", "containers are off:") +
        ' the Worker starts, but every sandbox call fails with "Containers have not been enabled for this Durable Object class"',
    );
  }
  if (needsNode) {
    // The Node the user has is too old for the project: run it on one that fits, fetched once
    // (after the quick checks, so a missing Docker is said before a long download).
    const runtime = await nodeForProject(pkg.engines!.node!, nodeVersion, show(dir), env, name);
    env = { ...env, PATH: [runtime.binDir, env.PATH].filter(Boolean).join(delimiter) };
  }

  const trap = trapSignals();
  try {
    // 4. Dependencies.
    const prefix = style("cyan", `[${name}]`);
    if (willInstall) {
      await install({ pm, dir, display: show(dir), env, prefix, signal: trap.signal });
      project.installed = true;
    }
    if (!options.start) return { project };

    // 5. The dev server.
    if (!pkg.scripts?.dev) {
      throw new ExpectedError(`${show(dir)}/package.json has no "dev" script`, {
        hint: 'add one, e.g. "dev": "wrangler dev"',
      });
    }
    const { assertPortFree, runDevServer } = await import("../scaffold/dev-server.js");
    await assertPortFree(options.port);
    const { command, args } = runScriptCommand(pm, "dev", kind.devArgs({ port: options.port, containers }));
    say(`${style("dim", "starting")} ${[command, ...args].join(" ")} ${style("dim", `in ${show(dir)}`)}`);
    const server = await runDevServer({
      command,
      args,
      cwd: dir,
      env: devServerEnv(env, options.port),
      port: options.port,
      onLine: (line) => sayPrefixed(prefix, plain(line)),
      onDebug: debug,
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
      `${projects.length ? `start one of its projects (acontext sandbox start NAME), or ` : ""}create one from a template: acontext sandbox start ${templateNames[0]}${options.dir === "sandbox" ? "" : ` --dir ${options.dir}`}; ${listing(projects, templateNames, show)}`,
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
      options.yes ? `${projects.length} sandbox projects in ${show(root)}/: say which one to start` : "no project chosen, and no terminal to ask",
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
      validate: (value) => validateProjectName(value) ?? (existsSync(join(root, value)) && !options.force ? `${show(join(root, value))} already exists` : true),
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

/**
 * A Node.js that satisfies `range`: from the cache, else fetched from the npm registry (once, with
 * progress). Where neither works, an error that names a way that does, offline included.
 */
async function nodeForProject(range: string, onPath: string | undefined, project: string, env: NodeJS.ProcessEnv, name: string) {
  const { cachedNode, fetchNode, NodeFetchError, nodeCacheDir } = await import("../scaffold/node-runtime.js");
  const have = onPath ? `node on PATH is ${onPath}` : "there is no node on PATH";
  const cached = await cachedNode(range, env);
  if (cached) {
    say(style("dim", `${project} needs Node.js ${range} and ${have}: running it on Node.js ${cached.version} (${cached.binDir})`));
    return cached;
  }
  const trap = trapSignals();
  const spinner = process.stderr.isTTY ? (await import("ora")).default({ stream: process.stderr }) : undefined;
  const started = Date.now();
  let title = "";
  try {
    const runtime = await fetchNode(range, {
      env,
      signal: trap.signal,
      onStart: (version, pkg) => {
        title = `${project} needs Node.js ${range} and ${have}: fetching Node.js ${version} (${pkg}, from the npm registry, once)`;
        if (spinner) spinner.start(title);
        else say(title);
      },
      onProgress: (bytes) => {
        if (spinner) spinner.text = `${title}: ${(bytes / 1024 ** 2).toFixed(0)} MB unpacked, ${Math.round((Date.now() - started) / 1000)} s`;
      },
    });
    const done = `fetched Node.js ${runtime.version} in ${Math.round((Date.now() - started) / 1000)} s, kept in ${nodeCacheDir(env)}`;
    if (spinner) spinner.succeed(done);
    else say(done);
    return runtime;
  } catch (err) {
    spinner?.stop();
    if (trap.signal.aborted) throw new CancelledError(trap.signal.reason);
    if (!(err instanceof NodeFetchError)) throw err;
    const retry = `acontext sandbox start ${name}`;
    throw new ExpectedError(`${project} needs Node.js ${range}, ${have}, and a Node.js for it could not be fetched: ${err.reason}`, {
      hint: err.offline
        ? `without the network, use a Node.js you have: PATH=/path/to/node-22/bin:$PATH ${retry} (any node that satisfies ${range}), or copy ${nodeCacheDir(env)} from a machine that fetched it`
        : `install a Node.js that satisfies ${range} and put it first on PATH: PATH=/path/to/node-22/bin:$PATH ${retry}`,
    });
  } finally {
    trap.dispose();
  }
}

/** A child's output line as we pass it on: its colour codes only where ours are on (never in a log file). */
function plain(line: string): string {
  return colorEnabled(process.stderr) ? line : stripVTControlCharacters(line);
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

/** `<pm> install` with its output on stderr, under a spinner on a terminal (lines scroll above it). */
async function install(options: {
  pm: PackageManager;
  dir: string;
  display: string;
  env: NodeJS.ProcessEnv;
  prefix: string;
  signal: AbortSignal;
}): Promise<void> {
  const { installDependencies } = await import("../scaffold/install.js");
  const { command, args } = installCommand(options.pm);
  const title = `installing dependencies in ${options.display} (${[command, ...args].join(" ")})`;
  const spinner = process.stderr.isTTY ? (await import("ora")).default({ text: title, stream: process.stderr }).start() : undefined;
  if (!spinner) say(title);
  try {
    await installDependencies({
      ...options,
      onLine: (line) => {
        spinner?.clear();
        sayPrefixed(options.prefix, plain(line));
        spinner?.render();
      },
    });
  } catch (err) {
    if (err instanceof CancelledError) spinner?.stop();
    else spinner?.fail();
    throw err;
  }
  spinner?.succeed(`installed dependencies in ${options.display}`);
}
