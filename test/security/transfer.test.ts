// `disk cp` from a hostile sandbox or API. A sandbox controls its file names, its symlinks and even
// its own `find`; a self-hosted API its listings. Each attack must end with a non-zero exit and a
// clear error naming the entry, and nothing may appear in the working folder outside the
// destination. The built CLI against a real server process; the sandbox attacks need real local
// sandboxes (root, user namespaces) and are skipped, with the reason, where there are none.
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, relative } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Artifact } from "../../src/client/client.js";
import { runCli, useTempDirs } from "../helpers/cli.js";
import { LOCAL_SANDBOXES, needs, ROOT } from "../helpers/requirements.js";
import { call, startServerProcess, TEST_KEY } from "../helpers/server.js";
import { upstreamProxy } from "../helpers/upstream-proxy.js";

const tempDir = useTempDirs();
const mark = randomBytes(4).toString("hex");

/** The built CLI against `url`, run in a fresh working folder `work` (HOME kept apart from it). */
async function cliIn(url: string, folder?: string) {
  const home = await tempDir();
  const work = folder ?? (await tempDir());
  const env = { HOME: home, ACONTEXT_BASE_URL: url, ACONTEXT_API_KEY: TEST_KEY };
  const run = (args: string[], input?: string | Uint8Array) => runCli(args, { cwd: work, env, input });
  return { work, run };
}

/** Every path under `dir` (folders with a trailing /), sorted: what is there before and after an attack. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.map((entry) => relative(dir, join(entry.parentPath, entry.name)) + (entry.isDirectory() ? "/" : "")).sort();
}

/** A refusal as users see it: exit 1, one error line naming `entry` JSON-quoted, one hint line. */
function expectRefused(result: { exitCode?: number; stderr: string }, entry: string): void {
  expect(result.exitCode, result.stderr).toBe(1);
  expect(result.stderr).toContain(JSON.stringify(entry));
  expect(result.stderr).toMatch(/^error: [^\n]+\nhint: [^\n]+$/);
  expect(result.stderr).not.toContain("looks like a bug");
}

const hostile = needs("disk cp from a hostile sandbox", LOCAL_SANDBOXES);
describe.skipIf(hostile.skip)(hostile.title, () => {
  async function sandboxSetup() {
    const server = await startServerProcess();
    const cli = await cliIn(server.url);
    const created = await cli.run(["sandbox", "create"]);
    expect(created.exitCode, created.stderr).toBe(0);
    /** A shell snippet in the sandbox, with `args` as $1…; it must succeed. */
    const inSandbox = async (script: string, args: string[] = [], input?: string | Uint8Array) => {
      const result = await cli.run(["sandbox", "exec", created.stdout.trim(), "--", "sh", "-c", script, "sh", ...args], input);
      expect(result.exitCode, result.stderr).toBe(0);
      return result.stdout;
    };
    // The same API shaped as upstream's (no extensions): there the CLI can only list with exec + find.
    const upstream = await cliIn((await upstreamProxy(server.url)).url, cli.work);
    return { ...cli, sandbox: created.stdout.trim(), inSandbox, runUpstream: upstream.run };
  }

  // What the sandbox's own `find` prints (NUL-terminated, as -print0), and where the file sits in
  // the sandbox relative to the folder copied, so that a CLI trusting the listing would really copy it.
  // Last: what a copy through our own API gives (it lists the folder itself): the files really in
  // the folder, or a refusal by the server of a name it will not take.
  it.skipIf(!ROOT.ok).each([
    ['a ".." path', `./../../escape-${mark}`, `../../escape-${mark}`, []],
    ["an absolute path", `/tmp/abs-${mark}`, `tmp/abs-${mark}`, [`box/dest/tmp/abs-${mark}`]],
    ["a name with a line break", `./evil\nname-${mark}`, `evil\nname-${mark}`, "refused"],
    ['".." after a folder', `./a/../../x-${mark}`, `a/../../x-${mark}`, []],
  ])(
    needs("a sandbox whose find (replaced, in /usr/bin and first on PATH) lists %s: refused, nothing written", {
      ok: ROOT.ok,
      reason: "as an ordinary user a sandbox's /usr is read-only, so it cannot replace its find",
    }).title,
    async (_name, listed, planted, direct) => {
      const { work, run, runUpstream, sandbox, inSandbox } = await sandboxSetup();
      await inSandbox('mkdir -p /workspace/a/b/dir/a && cd /workspace/a/b/dir && mkdir -p "$(dirname -- "$1")" && echo pwned > "$1"', [planted]);
      await inSandbox("cat > /tmp/listing", [], `${listed}\0`);
      await inSandbox(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
        'for f in /usr/bin/find /usr/local/bin/find; do mkdir -p "${f%/*}" && printf "#!/bin/sh\\ncat /tmp/listing\\n" > "$f" && chmod 755 "$f"; done',
      );
      expect(await inSandbox("cd /workspace/a/b/dir && find . -type f -print0")).toBe(`${listed}\0`);

      await mkdir(join(work, "box"));
      const before = await tree(work);
      // Upstream-shaped: the listing comes from the sandbox's find, and is refused.
      const result = await runUpstream(["disk", "cp", "-r", `sandbox://${sandbox}/workspace/a/b/dir`, "box/dest"]);
      expectRefused(result, listed);
      expect(result.stderr).toContain(`sandbox://${sandbox}/workspace/a/b/dir`);
      expect(await tree(work)).toEqual(before); // nothing outside the destination, and the destination not even made
      // Our API lists the folder itself (extension sandbox-files): the planted find is never asked,
      // and only what is really in the folder arrives, inside the destination.
      const copied = await run(["disk", "cp", "-r", `sandbox://${sandbox}/workspace/a/b/dir`, "box/dest"]);
      const added = (await tree(work)).filter((path) => !before.includes(path) && !path.endsWith("/"));
      if (direct === "refused") {
        expect(copied.exitCode).toBe(1);
        expect(copied.stderr).toContain("unacceptable path");
        expect(added).toEqual([]);
      } else {
        expect(copied.exitCode, copied.stderr).toBe(0);
        expect(added).toEqual(direct);
      }
    },
  );

  it("a symlink already in the destination, on the way to a file: refused, its target untouched", async () => {
    const { work, run, sandbox, inSandbox } = await sandboxSetup();
    await inSandbox("mkdir -p /workspace/dir/sub && echo top > /workspace/dir/top.txt && echo inner > /workspace/dir/sub/file.txt");
    await mkdir(join(work, "outside"));
    await mkdir(join(work, "dest", "dir"), { recursive: true });
    await symlink(join(work, "outside"), join(work, "dest", "dir", "sub"));

    const result = await run(["disk", "cp", "-r", `sandbox://${sandbox}/workspace/dir`, "dest"]);
    expectRefused(result, "dest/dir/sub");
    expect(result.stderr).toContain("symbolic link");
    expect(await readdir(join(work, "outside"))).toEqual([]);
    expect(await readlink(join(work, "dest", "dir", "sub"))).toBe(join(work, "outside"));
  });

  it("a symlink at a file's own name: refused even with --force, the link and its target untouched", async () => {
    const { work, run, sandbox, inSandbox } = await sandboxSetup();
    await inSandbox("mkdir -p /workspace/dir && echo from-sandbox > /workspace/dir/top.txt");
    await mkdir(join(work, "outside"));
    await writeFile(join(work, "outside", "target.txt"), "keep\n");
    await mkdir(join(work, "dest", "dir"), { recursive: true });
    await symlink(join(work, "outside", "target.txt"), join(work, "dest", "dir", "top.txt"));

    const result = await run(["disk", "cp", "-r", "--force", `sandbox://${sandbox}/workspace/dir`, "dest"]);
    expectRefused(result, "dest/dir/top.txt");
    expect(result.stderr).toContain("symbolic link");
    expect(await readFile(join(work, "outside", "target.txt"), "utf8")).toBe("keep\n");
    expect(await readlink(join(work, "dest", "dir", "top.txt"))).toBe(join(work, "outside", "target.txt"));
  });

  it("a regular file where the tree needs a folder: a clear error, the file kept", async () => {
    const { work, run, sandbox, inSandbox } = await sandboxSetup();
    await inSandbox("mkdir -p /workspace/dir/sub && echo inner > /workspace/dir/sub/file.txt");
    await mkdir(join(work, "dest", "dir"), { recursive: true });
    await writeFile(join(work, "dest", "dir", "sub"), "mine\n");

    const result = await run(["disk", "cp", "-r", "--force", `sandbox://${sandbox}/workspace/dir`, "dest"]);
    expectRefused(result, "dest/dir/sub");
    expect(result.stderr).toContain("not a folder");
    expect(await readFile(join(work, "dest", "dir", "sub"), "utf8")).toBe("mine\n");
  });

  it("positive control: a tree with spaces and unicode in its names copies to a sandbox and back", async () => {
    const { work, run, sandbox } = await sandboxSetup();
    const names = ["top file.md", "ünïcödé 日本/résumé (1).txt", "a b/c d/e f.txt", ".hidden"];
    for (const name of names) {
      await mkdir(join(work, "proj", name, ".."), { recursive: true });
      await writeFile(join(work, "proj", name), `content of ${name}\n`);
    }
    const up = await run(["disk", "cp", "-r", "proj", `sandbox://${sandbox}/workspace/`]);
    expect(up.exitCode, up.stderr).toBe(0);
    const down = await run(["disk", "cp", "-r", `sandbox://${sandbox}/workspace/proj`, "back"]);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stderr).toContain("copied 4 files");
    expect(await tree(join(work, "back"))).toEqual(await tree(join(work, "proj")));
    for (const name of names) expect(await readFile(join(work, "back", name), "utf8")).toBe(`content of ${name}\n`);
  });
});

type Listing = { artifacts: Artifact[]; directories: string[] };

/**
 * A lying API: a proxy in front of the real server that answers `artifact/ls` for the paths in
 * `listings` itself, and turns downloads of the names in `downloads` into downloads of real files
 * (so a CLI that trusted the lie would really write them). Everything else passes through.
 */
async function lyingApi(target: string, lies: { listings: Record<string, Listing>; downloads: Record<string, string> }): Promise<string> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", target);
    const listing = url.pathname.endsWith("/artifact/ls") ? lies.listings[url.searchParams.get("path") ?? ""] : undefined;
    if (listing) return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ code: 0, msg: "ok", data: listing }));
    const real = url.pathname.endsWith("/artifact/download") ? lies.downloads[url.searchParams.get("file_path") ?? ""] : undefined;
    if (real) url.searchParams.set("file_path", real);
    const upstream = request(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxies.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
const proxies: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of proxies.splice(0)) await close();
});

describe("disk cp from a lying API (disk → local)", () => {
  /** A real disk with /dir/bait.txt; returns its id and the real listing entry for the bait. */
  async function diskSetup() {
    const server = await startServerProcess();
    const direct = await cliIn(server.url);
    const diskId = (await direct.run(["disk", "create"])).stdout.trim();
    await writeFile(join(direct.work, "bait.txt"), "pwned\n");
    expect((await direct.run(["disk", "cp", "bait.txt", `disk://${diskId}/dir/`])).exitCode).toBe(0);
    const real = (await call<Listing>(server, "GET", `/disk/${diskId}/artifact/ls?path=${encodeURIComponent("/dir/")}`)).body.data;
    expect(real.artifacts.map((artifact) => artifact.filename)).toEqual(["bait.txt"]);
    return { server, diskId, bait: real.artifacts[0]! };
  }

  it.each([
    [
      'an artifact named "../../escape"',
      (bait: Artifact): Record<string, Listing> => ({
        "/dir/": { artifacts: [{ ...bait, filename: `../../escape-${mark}` }], directories: [] },
      }),
      `/dir/../../escape-${mark}`,
      `/dir/../../escape-${mark}`,
    ],
    [
      'a directory named ".."',
      (bait: Artifact): Record<string, Listing> => ({
        "/dir/": { artifacts: [], directories: [".."] },
        "/dir/../": { artifacts: [{ ...bait, path: "/dir/../", filename: `escape-${mark}` }], directories: [] },
      }),
      `/dir/../escape-${mark}`,
      "/dir/../",
    ],
  ])("a listing with %s: refused, nothing written", async (_name, listings, lure, named) => {
    const { server, diskId, bait } = await diskSetup();
    const url = await lyingApi(server.url, { listings: listings(bait), downloads: { [lure]: "/dir/bait.txt" } });
    const { work, run } = await cliIn(url);
    await mkdir(join(work, "box"));
    const before = await tree(work);
    const result = await run(["disk", "cp", "-r", `disk://${diskId}/dir/`, "box/dest"]);
    expectRefused(result, named);
    expect(await tree(work)).toEqual(before);
  });

  it("positive control: a tree with spaces and unicode in its names copies to a disk and back", async () => {
    const server = await startServerProcess();
    const { work, run } = await cliIn(server.url);
    const diskId = (await run(["disk", "create"])).stdout.trim();
    const names = ["top file.md", "ünïcödé 日本/résumé (1).txt", "a b/c d/e f.txt"];
    for (const name of names) {
      await mkdir(join(work, "proj", name, ".."), { recursive: true });
      await writeFile(join(work, "proj", name), `content of ${name}\n`);
    }
    expect((await run(["disk", "cp", "-r", "proj", `disk://${diskId}/`])).exitCode).toBe(0);
    const down = await run(["disk", "cp", "-r", `disk://${diskId}/proj/`, "back"]);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(await tree(join(work, "back"))).toEqual(await tree(join(work, "proj")));
    for (const name of names) expect(await readFile(join(work, "back", name), "utf8")).toBe(`content of ${name}\n`);
  });
});
