import { describe, expect, it } from "vitest";
import { PlanError } from "../../src/transfer/plan.js";
import { MAX_ENTRIES, MAX_PATH_BYTES, NulTerminated, TreeListing, unsafeReason } from "../../src/transfer/safe-path.js";

/** 16 folders of 254 bytes, then a file name: a path of 4080 + `fileBytes` bytes. */
const deepPath = (fileBytes: number) => `${"x".repeat(254)}/`.repeat(16) + "y".repeat(fileBytes);

describe("unsafeReason", () => {
  it.each([
    ["a file", "a.txt"],
    ["a path", "a/b/c.txt"],
    ["spaces", "name with space.txt"],
    ["unicode", "ünïcödé 日本/résumé (1).txt"],
    ["a dot file", ".hidden"],
    ["a name starting with ..", "..dots"],
    ["three dots", "..."],
    ["a backslash on Linux", "a\\b"],
    ["a 255-byte name", "x".repeat(255)],
    ["a 4096-byte path", deepPath(16)],
  ])("accepts %s", (_name, path) => {
    expect(unsafeReason(path, "linux")).toBeUndefined();
  });

  it.each<[string, string, string, NodeJS.Platform?]>([
    ["empty", "", "is empty"],
    ["..", "..", 'has a ".." segment'],
    ["../ in front", "../x", 'has a ".." segment'],
    [".. after a folder", "a/../../x", 'has a ".." segment'],
    [".. at the end", "a/..", 'has a ".." segment'],
    [".", ".", 'has a "." segment'],
    ["./ in front", "./a", 'has a "." segment'],
    ["./ inside", "a/./b", 'has a "." segment'],
    ["absolute", "/etc/passwd", "is absolute"],
    ["a//b", "a//b", "has an empty segment"],
    ["a trailing slash", "a/", "has an empty segment"],
    ["NUL", "a\0b", "holds a NUL byte"],
    ["a newline", "a\nb", "holds a line break"],
    ["a carriage return", "a\rb", "holds a line break"],
    ["an overlong name", "x".repeat(256), "has a name longer than 255 bytes"],
    ["an overlong name in bytes (UTF-8)", "é".repeat(128), "has a name longer than 255 bytes"],
    ["an overlong path", deepPath(17), "is longer than 4096 bytes"],
    ["a backslash on Windows", "a\\..\\..\\x", "holds a backslash", "win32"],
  ])("refuses %s", (_name, path, reason, platform = "linux") => {
    expect(unsafeReason(path, platform)).toBe(reason);
  });
});

describe("NulTerminated", () => {
  /** The entries of `chunks` streamed through one NulTerminated, or its refusal. */
  const entries = (chunks: string[]): string[] | string => {
    const splitter = new NulTerminated("sandbox://s/src", "./");
    try {
      return [...chunks.flatMap((chunk) => splitter.push(Buffer.from(chunk))), ...splitter.end()];
    } catch (err) {
      expect(err).toBeInstanceOf(PlanError);
      return (err as PlanError).message;
    }
  };

  it.each<[string[], string[]]>([
    [[""], []],
    [["./a\0./b c\0"], ["./a", "./b c"]],
    [["./a\0./b"], ["./a", "./b"]],
    [["./a\nb\0"], ["./a\nb"]],
    [["\0\0"], ["", ""]],
    [
      ["./a", "b\0./", "c\0"],
      ["./ab", "./c"],
    ],
  ])("%j", (chunks, expected) => {
    expect(entries(chunks)).toEqual(expected);
  });

  it("keeps a character split across chunks", () => {
    const bytes = Buffer.from("./é\0");
    const splitter = new NulTerminated("sandbox://s/src", "./");
    expect([...splitter.push(bytes.subarray(0, 3)), ...splitter.push(bytes.subarray(3)), ...splitter.end()]).toEqual(["./é"]);
  });

  it("an entry at the limit passes; one byte more is refused as it arrives, even without its end", () => {
    expect(entries([`./${"a".repeat(MAX_PATH_BYTES)}\0`])).toEqual([`./${"a".repeat(MAX_PATH_BYTES)}`]);
    const refusal = `refusing the listing of sandbox://s/src: an entry is longer than ${MAX_PATH_BYTES} bytes (it starts ${JSON.stringify(`./${"a".repeat(62)}`)})`;
    expect(entries([`./${"a".repeat(MAX_PATH_BYTES)}`, "a"])).toBe(refusal);
    expect(entries([`./${"a".repeat(1000)}`, ..."b".repeat(MAX_PATH_BYTES).match(/.{1,1000}/g)!])).toMatch(/^refusing the listing .*longer than 4096 bytes/);
  });
});

describe("TreeListing", () => {
  /** The listing's files, or its refusal as the CLI shows it: message, then hint. */
  const plan = (prefix: string, entries: Array<string | [string, "dir"]>): string[] | string => {
    const listing = new TreeListing("sandbox://s/src", prefix, "linux");
    try {
      for (const entry of entries) typeof entry === "string" ? listing.add(entry) : listing.add(...entry);
      return listing.paths();
    } catch (err) {
      expect(err).toBeInstanceOf(PlanError);
      expect((err as PlanError).exitCode).toBe(1);
      return `${(err as PlanError).message}\nhint: ${(err as PlanError).hint}`;
    }
  };

  it.each<[string, string, Array<string | [string, "dir"]>, string[]]>([
    ["find's listing, sorted", "./", ["./b", "./a/c", "./a b/ü"], ["a b/ü", "a/c", "b"]],
    ["nothing", "./", [], []],
    ["a file beside a folder of a similar name", "./", ["./a-b", "./a/b", "./a.txt"], ["a-b", "a.txt", "a/b"]],
    ["a disk's listing, folders checked but not kept", "/dir/", [["/dir/sub/", "dir"], "/dir/sub/x", "/dir/y"], ["sub/x", "y"]],
    ["a disk's root", "/", [["/a/", "dir"], "/a/b"], ["a/b"]],
  ])("%s", (_name, prefix, entries, files) => {
    expect(plan(prefix, entries)).toEqual(files);
  });

  it.each<[string, string, Array<string | [string, "dir"]>, string]>([
    ["..", "./", ["./ok", "./../../x"], '"./../../x" has a ".." segment'],
    ["./ twice", "./", ["././x"], '"././x" has a "." segment'],
    ["an absolute path", "./", ["/tmp/x"], '"/tmp/x" is outside the folder'],
    ["no prefix", "./", ["x"], '"x" is outside the folder'],
    ["an empty entry", "./", [""], '"" is outside the folder'],
    ["only the prefix", "./", ["./"], '"./" is empty'],
    ["a//b", "./", ["./a//b"], '"./a//b" has an empty segment'],
    ["a trailing slash on a file", "./", ["./a/"], '"./a/" has an empty segment'],
    ["NUL, quoted", "./", ["./a\0b"], '"./a\\u0000b" holds a NUL byte'],
    ["a newline, quoted", "./", ["./a\n../b"], '"./a\\n../b" holds a line break'],
    ["a carriage return, quoted", "./", ["./a\rb"], '"./a\\rb" holds a line break'],
    ["an overlong name", "./", [`./${"x".repeat(256)}`], "has a name longer than 255 bytes"],
    ["an overlong path", "./", [`./${deepPath(17)}`], "is longer than 4096 bytes"],
    ["a duplicate", "./", ["./a", "./b", "./a"], '"./a" is listed twice'],
    ["a file that is also a folder", "./", ["./a", "./a/b"], '"./a" is a file and also the folder of "./a/b"'],
    ["a file that is also a folder, listed after", "./", ["./a/b/c", "./a/b"], '"./a/b" is a file and also the folder of "./a/b/c"'],
    ["a disk folder named ..", "/dir/", [["/dir/../", "dir"]], '"/dir/../" has a ".." segment'],
    ["a disk folder with a slash in its name", "/dir/", [["/dir/a//", "dir"]], '"/dir/a//" has an empty segment'],
    ["a disk file outside the folder", "/dir/", ["/etc/passwd"], '"/etc/passwd" is outside the folder'],
    ["a disk file named with ..", "/dir/", ["/dir/../../x"], '"/dir/../../x" has a ".." segment'],
  ])("refuses %s, naming the entry", (_name, prefix, entries, message) => {
    const refused = plan(prefix, entries);
    expect(refused).toContain("refusing the listing of sandbox://s/src: ");
    expect(refused).toContain(message);
    expect(refused).toContain("hint: a sandbox or disk may list only paths inside the folder copied; nothing of this folder was written");
  });

  it(`takes ${MAX_ENTRIES} entries and refuses one more, folders included`, () => {
    const files = Array.from({ length: MAX_ENTRIES - 1 }, (_, i) => `/d/f${i}`);
    expect(plan("/", [["/d/", "dir"], ...files])).toHaveLength(MAX_ENTRIES - 1);
    expect(plan("/", [["/d/", "dir"], ...files, "/d/one-more"])).toBe(
      `refusing the listing of sandbox://s/src: more than ${MAX_ENTRIES} entries\nhint: copy its subfolders one at a time, or pack it into one file first (tar)`,
    );
  });
});
