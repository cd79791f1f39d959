import { describe, expect, it } from "vitest";
import { type Endpoint, formatEndpoint, type Kind, parseEndpoint, planCopy, splitDiskPath } from "../../src/transfer/plan.js";

const D = "0b6c2f9e-5a7d-4d1e-9a51-3f1c2a7b8e90";

describe("parseEndpoint", () => {
  it.each<[string, Endpoint]>([
    ["-", { kind: "stdio" }],
    ["notes.md", { kind: "local", path: "notes.md" }],
    ["./a:b/c", { kind: "local", path: "./a:b/c" }],
    ["C:/Users/x", { kind: "local", path: "C:/Users/x" }],
    [`disk://${D}`, { kind: "disk", diskId: D, path: "/" }],
    [`disk://${D}/`, { kind: "disk", diskId: D, path: "/" }],
    [`disk://${D}/docs/a.md`, { kind: "disk", diskId: D, path: "/docs/a.md" }],
    [`disk://${D}/docs/`, { kind: "disk", diskId: D, path: "/docs/" }],
    ["sandbox://sb1/workspace/x", { kind: "sandbox", sandboxId: "sb1", path: "/workspace/x" }],
  ])("%j", (text, endpoint) => {
    expect(parseEndpoint(text)).toEqual(endpoint);
    expect(formatEndpoint(endpoint)).toBe(text === `disk://${D}` ? `disk://${D}/` : text);
  });

  it.each([
    ["s3://bucket/key", "unknown scheme"],
    ["disk:///a", "no disk id"],
    [`disk://${D}/a/../b`, 'no ".." segments'],
    ["", "an empty path"],
  ])("rejects %j", (text, message) => {
    expect(() => parseEndpoint(text)).toThrow(message);
  });
});

describe("planCopy", () => {
  const disk = (path: string): Endpoint => ({ kind: "disk", diskId: D, path });
  const local = (path: string): Endpoint => ({ kind: "local", path });
  const stdio: Endpoint = { kind: "stdio" };
  /** A world with a local file a.txt, a local dir src/, and on the disk /docs/ (dir) and /docs/r.md (file). */
  const world = (endpoint: Endpoint): Kind => {
    const key = formatEndpoint(endpoint).replace(/\/$/, "");
    const kinds: Record<string, Kind> = {
      "a.txt": "file",
      src: "dir",
      out: "dir",
      [`disk://${D}/docs`]: "dir",
      [`disk://${D}/docs/r.md`]: "file",
      [`disk://${D}`]: "dir",
      "r.md": "file",
    };
    return kinds[key] ?? "missing";
  };
  const plan = (sources: Endpoint[], dest: Endpoint, recursive = false) =>
    planCopy(sources, dest, { recursive }, world).map((s) => `${s.type} ${formatEndpoint(s.from)} → ${formatEndpoint(s.to)}`);

  it.each<[string, Endpoint[], Endpoint, boolean, string[]]>([
    ["file into a disk dir (trailing /)", [local("a.txt")], disk("/new/"), false, [`file a.txt → disk://${D}/new/a.txt`]],
    ["file into an existing disk dir", [local("a.txt")], disk("/docs"), false, [`file a.txt → disk://${D}/docs/a.txt`]],
    ["file to a new disk name", [local("a.txt")], disk("/docs/b.txt"), false, [`file a.txt → disk://${D}/docs/b.txt`]],
    ["file onto an existing disk file", [local("a.txt")], disk("/docs/r.md"), false, [`file a.txt → disk://${D}/docs/r.md`]],
    ["disk file to a local name", [disk("/docs/r.md")], local("copy.md"), false, [`file disk://${D}/docs/r.md → copy.md`]],
    ["disk file into a local dir", [disk("/docs/r.md")], local("out"), false, [`file disk://${D}/docs/r.md → out/r.md`]],
    ["disk file into a new local dir/", [disk("/docs/r.md")], local("fresh/"), false, [`file disk://${D}/docs/r.md → fresh/r.md`]],
    ["disk file to stdout", [disk("/docs/r.md")], stdio, false, [`file disk://${D}/docs/r.md → -`]],
    ["stdin to a disk file", [stdio], disk("/in.bin"), false, [`file - → disk://${D}/in.bin`]],
    ["local dir -r into disk dir", [local("src")], disk("/code/"), true, [`tree src → disk://${D}/code/src`]],
    ["local dir -r to a new disk name", [local("src")], disk("/code"), true, [`tree src → disk://${D}/code`]],
    ["disk dir -r into local dir", [disk("/docs/")], local("out"), true, [`tree disk://${D}/docs/ → out/docs`]],
    ["disk root -r to a new local dir", [disk("/")], local("backup"), true, [`tree disk://${D}/ → backup`]],
    [
      "file into a sandbox dir",
      [local("a.txt")],
      { kind: "sandbox", sandboxId: "s", path: "/workspace/" },
      false,
      ["file a.txt → sandbox://s/workspace/a.txt"],
    ],
    [
      "disk file into a sandbox dir",
      [disk("/docs/r.md")],
      { kind: "sandbox", sandboxId: "s", path: "/workspace/" },
      false,
      [`file disk://${D}/docs/r.md → sandbox://s/workspace/r.md`],
    ],
    ["local dir -r into a sandbox", [local("src")], { kind: "sandbox", sandboxId: "s", path: "/workspace/" }, true, ["tree src → sandbox://s/workspace/src"]],
    ["several files into a dir", [local("a.txt"), local("r.md")], disk("/x/"), false, [`file a.txt → disk://${D}/x/a.txt`, `file r.md → disk://${D}/x/r.md`]],
  ])("%s", (_name, sources, dest, recursive, expected) => {
    expect(plan(sources, dest, recursive)).toEqual(expected);
  });

  it.each<[string, Endpoint[], Endpoint, boolean, string]>([
    ["missing source", [local("nope.txt")], disk("/"), false, "nope.txt: no such file or directory"],
    ["directory without -r", [local("src")], disk("/x/"), false, "src is a directory"],
    ["several sources to a file", [local("a.txt"), local("r.md")], disk("/x"), false, "needs a directory destination"],
    ["stdin to a directory", [stdio], disk("/docs/"), false, "stdin (-) needs a file name"],
    ["directory to stdout", [disk("/docs/")], stdio, true, "cannot be copied to stdout"],
    ["local to local", [local("a.txt")], local("b.txt"), false, "are local"],
    ["disk to disk", [disk("/docs/r.md")], disk("/x/"), false, "are on disks"],
    ["a file named as a directory", [local("a.txt")], disk("/docs/r.md/"), false, "is a file, not a directory"],
    ["sandbox to sandbox", [{ kind: "sandbox", sandboxId: "s", path: "/a" }], { kind: "sandbox", sandboxId: "t", path: "/w/" }, false, "are in sandboxes"],
    ["two stdins", [stdio, stdio], disk("/x/"), false, "stdin (-) can be read only once"],
  ])("refuses: %s", (_name, sources, dest, recursive, message) => {
    expect(() => plan(sources, dest, recursive)).toThrow(message);
  });
});

describe("splitDiskPath", () => {
  it.each([
    ["/a/b.txt", "/a/", "b.txt"],
    ["/b.txt", "/", "b.txt"],
    ["b.txt", "/", "b.txt"],
  ])("%j", (path, dir, filename) => {
    expect(splitDiskPath(path)).toEqual({ dir, filename });
  });
});
