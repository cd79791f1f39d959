import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type DetectionInput,
  installCommand,
  packageManagerChoices,
  parsePackageManagerField,
  parseUserAgent,
  resolvePackageManager,
  runScriptCommand,
} from "../../src/scaffold/package-manager.js";
import { findOnPath } from "../../src/shared/processes.js";
import { stubBin, useTempDirs } from "../helpers/cli.js";

const none: DetectionInput = { files: [], installed: [] };

describe("resolvePackageManager", () => {
  it.each<[string, DetectionInput, string, string]>([
    [
      "--pm beats everything",
      { ...none, flag: "bun", packageManagerField: "pnpm@9.0.0", files: ["yarn.lock"], userAgent: "npm/11", installed: ["npm"] },
      "bun",
      "--pm",
    ],
    [
      "packageManager field beats lockfiles",
      { ...none, packageManagerField: "yarn@4.5.0+sha512.abc", files: ["pnpm-lock.yaml"] },
      "yarn",
      "packageManager field",
    ],
    ["unknown packageManager falls through", { ...none, packageManagerField: "deno@2.0.0", files: ["pnpm-lock.yaml"] }, "pnpm", "pnpm-lock.yaml"],
    ["non-string packageManager falls through", { ...none, packageManagerField: 42, files: ["yarn.lock"] }, "yarn", "yarn.lock"],
    ["pnpm lockfile", { ...none, files: ["package.json", "pnpm-lock.yaml"] }, "pnpm", "pnpm-lock.yaml"],
    ["npm lockfile", { ...none, files: ["package-lock.json"] }, "npm", "package-lock.json"],
    ["yarn lockfile", { ...none, files: ["yarn.lock"] }, "yarn", "yarn.lock"],
    ["bun text lockfile", { ...none, files: ["bun.lock"] }, "bun", "bun.lock"],
    ["bun binary lockfile", { ...none, files: ["bun.lockb"] }, "bun", "bun.lockb"],
    ["npm's lockfile loses to another", { ...none, files: ["package-lock.json", "yarn.lock"] }, "yarn", "yarn.lock"],
    ["lockfile beats user agent", { ...none, files: ["yarn.lock"], userAgent: "pnpm/9.1.0 npm/? node/v20" }, "yarn", "yarn.lock"],
    [
      "user agent when no lockfile",
      { ...none, userAgent: "pnpm/9.1.0 npm/? node/v20.12.0 linux x64", installed: ["npm", "bun"] },
      "pnpm",
      "npm_config_user_agent",
    ],
    ["bun user agent", { ...none, userAgent: "bun/1.1.0 npm/? node/v22" }, "bun", "npm_config_user_agent"],
    ["unknown user agent falls through", { ...none, userAgent: "deno/2", installed: ["npm"] }, "npm", "installed"],
    ["installed: pnpm first", { ...none, installed: ["npm", "yarn", "pnpm", "bun"] }, "pnpm", "installed"],
    ["installed: yarn before bun", { ...none, installed: ["npm", "bun", "yarn"] }, "yarn", "installed"],
    ["installed: bun before npm", { ...none, installed: ["npm", "bun"] }, "bun", "installed"],
    ["installed: npm alone", { ...none, installed: ["npm"] }, "npm", "installed"],
    ["nothing at all", none, "npm", "default"],
  ])("%s", (_name, input, pm, source) => {
    expect(resolvePackageManager(input)).toEqual({ pm, source });
  });
});

describe("parsers", () => {
  it.each([
    ["pnpm@9.12.0", "pnpm"],
    ["yarn@4.5.0+sha224.abc", "yarn"],
    ["npm@11.0.0", "npm"],
    ["bun@1.1.0", "bun"],
    ["deno@2", undefined],
    ["", undefined],
    [undefined, undefined],
  ])("packageManager %j → %s", (field, pm) => {
    expect(parsePackageManagerField(field)).toBe(pm);
  });

  it.each([
    ["npm/11.19.1 node/v20.20.2 linux x64 workspaces/false", "npm"],
    ["yarn/1.22.22 npm/? node/v20.20.2 linux x64", "yarn"],
    ["", undefined],
    [undefined, undefined],
  ])("user agent %j → %s", (agent, pm) => {
    expect(parseUserAgent(agent)).toBe(pm);
  });
});

describe("commands", () => {
  it.each([
    ["npm", [], "npm run dev"],
    ["npm", ["--port", "8787"], "npm run dev -- --port 8787"],
    ["pnpm", ["--port", "8787"], "pnpm run dev --port 8787"],
    ["yarn", ["--port", "8787"], "yarn run dev --port 8787"],
    ["bun", ["--port", "8787", "--enable-containers=false"], "bun run dev --port 8787 --enable-containers=false"],
  ] as const)("%s run dev %j", (pm, args, expected) => {
    const { command, args: argv } = runScriptCommand(pm, "dev", [...args]);
    expect([command, ...argv].join(" ")).toBe(expected);
  });

  it("installs with `<pm> install`", () => {
    expect(installCommand("pnpm")).toEqual({ command: "pnpm", args: ["install"] });
  });

  it.each([
    ["npm", ["npm", "pnpm", "bun"], ["npm", "pnpm", "bun"]],
    ["bun", ["npm", "pnpm", "yarn", "bun"], ["bun", "pnpm", "yarn", "npm"]],
    ["pnpm", ["npm"], ["npm"]],
  ] as const)("prompt choices with %s detected among %j", (detected, installed, expected) => {
    expect(packageManagerChoices(detected, installed)).toEqual(expected);
  });
});

describe("findOnPath", () => {
  const tempDir = useTempDirs();

  it("finds executables and skips folders and non-executables", async () => {
    const dir = await tempDir();
    await stubBin(dir, "pnpm", "exit 0");
    await mkdir(join(dir, "yarn"));
    const { writeFile } = await import("node:fs/promises");
    await writeFile(join(dir, "bun"), "not executable");
    const env = { PATH: `/nonexistent:${dir}` };
    expect(findOnPath("pnpm", env)).toBe(join(dir, "pnpm"));
    expect(findOnPath("yarn", env)).toBeUndefined();
    expect(findOnPath("bun", env)).toBeUndefined();
    expect(findOnPath("pnpm", {})).toBeUndefined();
  });
});
