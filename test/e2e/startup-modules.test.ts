// What the CLI loads before it does anything: Node's heavier built-in modules stay out of the
// commands that do not use them (each costs ~1.5–4 ms of every start; bench/ times the whole).
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalBackend } from "../../src/sandbox/local/local-backend.js";
import { runCli, useTempDirs } from "../helpers/cli.js";
import { startServerProcess, TEST_KEY } from "../helpers/server.js";

const tempDir = useTempDirs();
/** Built-ins no start-up path needs: commander's child_process, crypto, readline, fs/promises. */
const HEAVY = ["child_process", "crypto", "readline", "fs/promises"];

/** Runs the CLI with a preload that writes the built-in modules it loaded, at exit. */
async function loadedModules(args: string[], env: NodeJS.ProcessEnv = {}) {
  const home = await tempDir();
  const list = join(home, "modules.txt");
  const preload = join(home, "record.cjs");
  await writeFile(
    preload,
    `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice(13)).join("\\n")));`,
  );
  const result = await runCli(args, { cwd: home, env: { HOME: home, NODE_OPTIONS: `--require ${preload}`, ...env } });
  expect(result.exitCode, result.stderr).toBe(0);
  return { modules: (await readFile(list, "utf8")).split("\n"), stdout: result.stdout };
}

describe("start-up", () => {
  it("--help and --version load none of the heavier built-ins, nor node:http", async () => {
    for (const args of [["--help"], ["--version"], ["sandbox", "exec", "--help"]]) {
      const { modules } = await loadedModules(args);
      expect(modules).toContain("fs"); // the list is real
      for (const name of [...HEAVY, "http"]) expect(modules, `${args.join(" ")} loads ${name}`).not.toContain(name);
    }
  });

  it("API commands load node:http and nothing heavier", async () => {
    const server = await startServerProcess();
    const env = { ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY };
    const { modules, stdout } = await loadedModules(["disk", "ls", "--json"], env);
    expect(JSON.parse(stdout)).toEqual([]);
    expect(modules).toContain("http");
    for (const name of HEAVY) expect(modules, `disk ls loads ${name}`).not.toContain(name);

    if (LocalBackend.supported().ok) {
      const sandbox = (await runCli(["sandbox", "create"], { cwd: await tempDir(), env })).stdout.trim();
      const exec = await loadedModules(["sandbox", "exec", sandbox, "--", "echo ok"], env);
      expect(exec.stdout).toBe("ok");
      for (const name of HEAVY) expect(exec.modules, `sandbox exec loads ${name}`).not.toContain(name);
    }
  });
});
