import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { detectKind, scanProjects } from "../../src/scaffold/projects.js";
import {
  copyTemplate,
  DOTFILE_RENAMES,
  defaultProjectName,
  isRemoteTemplate,
  listBundledTemplates,
  prepareTarget,
  TEMPLATES_DIR,
  toPackageName,
  validateProjectName,
} from "../../src/scaffold/templates.js";
import { useTempDirs } from "../helpers/cli.js";

const tempDir = useTempDirs();

async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path, base)));
    else out.push(relative(base, path));
  }
  return out.sort();
}

describe("template names", () => {
  it.each([
    ["cloudflare", false],
    ["github:owner/repo/dir#main", true],
    ["gh:owner/repo", true],
    ["gitlab:group/project", true],
    ["git:./local-repo", true],
    ["https://example.test/t.tar.gz", true],
    ["C:/templates/x", false],
    ["nope:thing", false],
  ])("isRemoteTemplate(%j) = %s", (spec, remote) => {
    expect(isRemoteTemplate(spec)).toBe(remote);
  });

  it.each([
    ["cloudflare", "cloudflare"],
    ["github:owner/repo/examples/My_Worker#main", "my-worker"],
    ["github:owner/repo", "repo"],
    ["git:./some/local-repo.git", "local-repo"],
    ["git:./repo#main:sub/dir/", "dir"],
  ])("defaultProjectName(%j) = %s", (spec, name) => {
    expect(defaultProjectName(spec)).toBe(name);
  });

  it.each([
    ["cloudflare", "cloudflare"],
    ["My Worker", "my-worker"],
    ["a.b_c", "a-b-c"],
    ["---", "sandbox"],
  ])("toPackageName(%j) = %s", (name, pkg) => {
    expect(toPackageName(name)).toBe(pkg);
  });

  it.each([
    ["cloudflare", true],
    ["my-worker.2", true],
    ["..", false],
    [".hidden", false],
    ["a/b", false],
    ["", false],
  ])("validateProjectName(%j) ok=%s", (name, ok) => {
    expect(validateProjectName(name) === undefined).toBe(ok);
  });
});

describe("bundled templates", () => {
  it("lists every folder in templates/ with its description", async () => {
    const templates = await listBundledTemplates();
    expect(templates.map((t) => t.name)).toEqual(
      (await readdir(TEMPLATES_DIR, { withFileTypes: true }))
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort(),
    );
    expect(templates.find((t) => t.name === "cloudflare")?.description).toMatch(/Cloudflare/);
  });

  it("each is a recognisable sandbox project", async () => {
    for (const template of await listBundledTemplates()) {
      expect(detectKind(await readdir(template.dir))?.name, template.name).toBe("cloudflare");
    }
  });

  it("cloudflare pins one @cloudflare/sandbox version, matching the Dockerfile image", async () => {
    const dir = join(TEMPLATES_DIR, "cloudflare");
    const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
    const version = pkg.dependencies["@cloudflare/sandbox"];
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(await readFile(join(dir, "Dockerfile"), "utf8")).toContain(`cloudflare/sandbox:${version}\n`);
    expect(pkg.engines.node).toBe(">=22.12.0");
  });
});

describe("copyTemplate", () => {
  it("copies every file, renames shipped dotfiles and names the package and worker", async () => {
    const target = join(await tempDir(), "My_Worker");
    const source = join(TEMPLATES_DIR, "cloudflare");
    await copyTemplate(source, target, "My_Worker");

    const expected = (await listFiles(source))
      .filter((f) => !f.startsWith("node_modules/") && !f.startsWith(".wrangler/"))
      .map((f) => DOTFILE_RENAMES[f] ?? f)
      .sort();
    expect(await listFiles(target)).toEqual(expected);
    expect(expected).toContain(".gitignore");

    const pkg = JSON.parse(await readFile(join(target, "package.json"), "utf8"));
    expect(pkg.name).toBe("my-worker");
    expect(await readFile(join(target, "wrangler.jsonc"), "utf8")).toMatch(/"name": "my-worker"/);
  });

  it("leaves a wrangler name alone when it is not the package's", async () => {
    const source = await tempDir();
    await writeFile(join(source, "package.json"), JSON.stringify({ name: "tpl" }));
    await writeFile(join(source, "wrangler.toml"), 'name = "deployed-worker"\n');
    await mkdir(join(source, "node_modules", "x"), { recursive: true });
    const target = join(await tempDir(), "new");
    await copyTemplate(source, target, "new");
    expect(await readFile(join(target, "wrangler.toml"), "utf8")).toBe('name = "deployed-worker"\n');
    expect(await readdir(target)).toEqual(["package.json", "wrangler.toml"]);
  });
});

describe("prepareTarget", () => {
  it("accepts a missing or empty folder", async () => {
    const dir = await tempDir();
    await expect(prepareTarget(join(dir, "missing"), false, "x")).resolves.toBeUndefined();
    await expect(prepareTarget(dir, false, "x")).resolves.toBeUndefined();
  });

  it("refuses a non-empty folder without force and keeps its files", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "keep.txt"), "mine");
    await expect(prepareTarget(dir, false, "sandbox/x")).rejects.toThrow("sandbox/x already exists and is not empty");
    expect(await readFile(join(dir, "keep.txt"), "utf8")).toBe("mine");
  });

  it("with force empties it but keeps .git", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "old.txt"), "old");
    await mkdir(join(dir, ".git"));
    await prepareTarget(dir, true, "x");
    expect(await readdir(dir)).toEqual([".git"]);
  });

  it("refuses a file in the way", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "file"), "");
    await expect(prepareTarget(join(dir, "file"), true, "sandbox/file")).rejects.toThrow("is not a folder");
  });
});

describe("scanProjects", () => {
  it("finds projects of any folder name with package.json and a wrangler config", async () => {
    const root = await tempDir();
    const make = async (name: string, files: string[]) => {
      await mkdir(join(root, name));
      for (const f of files) await writeFile(join(root, name, f), "{}");
    };
    await make("cloudflare", ["package.json", "wrangler.jsonc"]);
    await make("my-worker", ["package.json", "wrangler.toml"]);
    await make("json-config", ["package.json", "wrangler.json"]);
    await make("no-marker", ["package.json"]);
    await make("no-package", ["wrangler.jsonc"]);
    await writeFile(join(root, "loose-file"), "");
    const found = await scanProjects(root);
    expect(found.map((p) => [p.name, p.kind.name, p.dir])).toEqual([
      ["cloudflare", "cloudflare", join(root, "cloudflare")],
      ["json-config", "cloudflare", join(root, "json-config")],
      ["my-worker", "cloudflare", join(root, "my-worker")],
    ]);
  });

  it("returns nothing for a missing root", async () => {
    expect(await scanProjects(join(await tempDir(), "sandbox"))).toEqual([]);
  });
});
