// Wire compatibility a newcomer meets first: file names in many scripts (multipart file names are
// UTF-8), through the built CLI and through the official SDK, and upstream's path rule for a
// directory without its trailing "/" (refused with a 400 that says why, not silently moved).
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AcontextClient, APIError, FileUpload } from "@acontext/acontext";
import { describe, expect, it } from "vitest";
import { runCli, useTempDirs } from "../helpers/cli.js";
import { LOCAL_SANDBOXES, needs } from "../helpers/requirements.js";
import { startServerProcess, TEST_KEY } from "../helpers/server.js";

const tempDir = useTempDirs();

/** Names a user may well have: accents, Greek, Cyrillic, CJK, Arabic (right to left), Devanagari, emoji, a decomposed é, spaces. */
const NAMES = [
  "résumé.txt",
  "Ελληνικά.md",
  "отчёт 2024.csv",
  "日本語のファイル.txt",
  "ملف عربي.txt",
  "हिन्दी.txt",
  "📦 box.log",
  "cafe\u0301.txt",
  "naïve — quotes 'single'.txt",
];

async function setup() {
  const server = await startServerProcess();
  const home = await tempDir();
  const env = { HOME: home, ACONTEXT_BASE_URL: server.url, ACONTEXT_API_KEY: TEST_KEY };
  const run = (args: string[]) => runCli(args, { cwd: home, env });
  const sdk = new AcontextClient({ apiKey: TEST_KEY, baseUrl: `${server.url}/api/v1` });
  return { server, home, run, sdk };
}

describe("file names in many scripts", () => {
  it("go up and come back unchanged through the CLI (disk cp, ls, glob) and are what the SDK sees", async () => {
    const { home, run, sdk } = await setup();
    const disk = (await run(["disk", "create"])).stdout.trim();
    for (const [i, name] of NAMES.entries()) await writeFile(join(home, name), `file ${i}: ${name}\n`);

    const up = await run(["disk", "cp", ...NAMES, `disk://${disk}/in/`]);
    expect(up.exitCode, up.stderr).toBe(0);
    const listed = (await run(["disk", "ls", `disk://${disk}/in/`])).stdout.split("\n");
    expect(listed.sort()).toEqual(NAMES.map((name) => `/in/${name}`).sort());
    expect((await run(["disk", "glob", `disk://${disk}`, "*日本語*"])).stdout).toBe("/in/日本語のファイル.txt");

    // The SDK reads the same names back, and gets each by its name.
    const seen = await sdk.disks.artifacts.list(disk, { path: "/in/" });
    expect(seen.artifacts.map((a) => a.filename).sort()).toEqual([...NAMES].sort());
    for (const [i, name] of NAMES.entries()) {
      const got = await sdk.disks.artifacts.get(disk, { filePath: "/in/", filename: name, withContent: true, withPublicUrl: false });
      expect(got.content?.raw).toBe(`file ${i}: ${name}\n`);
    }

    // And back down through the CLI, under the same names.
    const out = await tempDir();
    const down = await run(["disk", "cp", "-r", `disk://${disk}/in/`, `${out}/`]);
    expect(down.exitCode, down.stderr).toBe(0);
    for (const [i, name] of NAMES.entries()) expect(await readFile(join(out, "in", name), "utf8")).toBe(`file ${i}: ${name}\n`);
  });

  it("uploaded with the SDK, they are listed, downloaded and copied by the CLI under the same names", async () => {
    const { home, run, sdk } = await setup();
    const disk = (await sdk.disks.create()).id;
    for (const name of NAMES) {
      const artifact = await sdk.disks.artifacts.upsert(disk, { file: new FileUpload({ filename: name, content: Buffer.from(name) }), filePath: "/sdk/" });
      expect(artifact).toMatchObject({ path: "/sdk/", filename: name });
    }
    const listed = (await run(["disk", "ls", `disk://${disk}/sdk/`])).stdout.split("\n");
    expect(listed.sort()).toEqual(NAMES.map((name) => `/sdk/${name}`).sort());
    for (const name of NAMES) {
      const got = await run(["disk", "cp", `disk://${disk}/sdk/${name}`, "-"]);
      expect(got).toMatchObject({ exitCode: 0, stdout: name });
    }
    const one = await run(["disk", "cp", `disk://${disk}/sdk/résumé.txt`, "./"]);
    expect(one.exitCode, one.stderr).toBe(0);
    expect(await readFile(join(home, "résumé.txt"), "utf8")).toBe("résumé.txt");
  });

  const sandboxes = needs("go into a sandbox and back under the same names", LOCAL_SANDBOXES);
  it.skipIf(sandboxes.skip)(sandboxes.title, async () => {
    const { home, run } = await setup();
    const disk = (await run(["disk", "create"])).stdout.trim();
    const sandbox = (await run(["sandbox", "create"])).stdout.trim();
    for (const name of NAMES) await writeFile(join(home, name), name);
    expect((await run(["disk", "cp", ...NAMES, `disk://${disk}/in/`])).exitCode).toBe(0);
    const into = await run(["disk", "cp", "-r", `disk://${disk}/in/`, `sandbox://${sandbox}/workspace/`]);
    expect(into.exitCode, into.stderr).toBe(0);
    const inside = await run(["sandbox", "exec", sandbox, "--", "ls -1 /workspace/in"]);
    expect(inside.stdout.split("\n").sort()).toEqual([...NAMES].sort());
    const back = await run(["disk", "cp", "-r", `sandbox://${sandbox}/workspace/in/`, `disk://${disk}/back/`]);
    expect(back.exitCode, back.stderr).toBe(0);
    expect((await run(["disk", "ls", `disk://${disk}/back/in/`])).stdout.split("\n").sort()).toEqual(NAMES.map((name) => `/back/in/${name}`).sort());
    await run(["sandbox", "kill", sandbox]);
  });
});

describe("a directory without its trailing /", () => {
  it("is a 400 that says why (upstream silently stores '/noslash' into '/'), and stores nothing", async () => {
    const { sdk } = await setup();
    const disk = (await sdk.disks.create()).id;
    const refused = await sdk.disks.artifacts.upsert(disk, { file: ["a.txt", Buffer.from("x")], filePath: "/noslash" }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(APIError);
    expect(refused).toMatchObject({ statusCode: 400, code: 400, message: 'file_path is a directory and must end with "/"' });
    expect((refused as APIError).error).toContain('did you mean "/noslash/"');
    const root = await sdk.disks.artifacts.list(disk, { path: "/" });
    expect(root).toEqual({ artifacts: [], directories: [] });
    // With the "/" it is the directory it names.
    expect(await sdk.disks.artifacts.upsert(disk, { file: ["a.txt", Buffer.from("x")], filePath: "/noslash/" })).toMatchObject({ path: "/noslash/" });
  });
});
