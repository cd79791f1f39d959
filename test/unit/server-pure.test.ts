import { describe, expect, it } from "vitest";
import { Utf8Checker } from "../../src/server/blobs.js";
import { decodeCursor, encodeCursor } from "../../src/server/cursor.js";
import { contentTypeOf, sniffMime } from "../../src/server/mime.js";
import { isDirectoryPath, isValidFilename, isValidPath, splitFilePath } from "../../src/server/paths.js";
import { directoryField, globToRegExp, parseMeta } from "../../src/server/routes/artifacts.js";
import { formatSize, parseSize } from "../../src/shared/units.js";

describe("splitFilePath", () => {
  it.each([
    ["/a/b.txt", "/a/", "b.txt"],
    ["b.txt", "/", "b.txt"],
    ["/a/", "/a/", ""],
    ["/a", "/", "a"],
    ["", "/", ""],
    ["  /x/y/z.md  ", "/x/y/", "z.md"],
  ])("%j → %j + %j", (input, dir, file) => {
    expect(splitFilePath(input)).toEqual([dir, file]);
  });
});

describe("path validation", () => {
  it.each([
    ["/", true],
    ["/docs/", true],
    ["/a.b/c/", true],
    ["/.hidden/", true],
    ["/a/../b/", false],
    ["/a/..b/", false],
    ["/a/.../", false],
    ["/a/./", false],
    ["/a\0/", false],
    ["", false],
  ])("isValidPath(%j) = %s", (path, valid) => {
    expect(isValidPath(path)).toBe(valid);
  });

  it.each([
    ["notes.md", true],
    [".env", true],
    ["..", false],
    [".", false],
    ["a/b", false],
    ["", false],
  ])("isValidFilename(%j) = %s", (name, valid) => {
    expect(isValidFilename(name)).toBe(valid);
  });

  it.each([
    ["/", true],
    ["/a/", true],
    ["/a", false],
    ["a/", false],
  ])("isDirectoryPath(%j) = %s", (path, dir) => {
    expect(isDirectoryPath(path)).toBe(dir);
  });

  it.each([
    [undefined, "/"],
    ["", "/"],
    ["/docs/", "/docs/"],
    [" docs/sub/ ", "/docs/sub/"],
  ])("upsert file_path %j is the directory %j", (value, dir) => {
    expect(directoryField(value)).toBe(dir);
  });

  it.each(["/docs", "docs/sub", "/a/b.txt"])("upsert file_path %j, without its trailing /, is a 400 that says why", (value) => {
    expect(() => directoryField(value)).toThrow(expect.objectContaining({ status: 400, message: 'file_path is a directory and must end with "/"' }));
  });
});

describe("cursor", () => {
  it("round-trips and has upstream's shape", () => {
    const position = { createdUs: 1_764_131_000_123_456, id: "0b6c2f9e-5a7d-4d1e-9a51-3f1c2a7b8e90" };
    const cursor = encodeCursor(position);
    expect(Buffer.from(cursor, "base64url").toString()).toBe("1764131000123456000|0b6c2f9e-5a7d-4d1e-9a51-3f1c2a7b8e90");
    expect(cursor).not.toMatch(/[=+/]/);
    expect(decodeCursor(cursor)).toEqual(position);
  });

  it.each(["", "not base64!", Buffer.from("123").toString("base64url"), Buffer.from("abc|0b6c2f9e-5a7d-4d1e-9a51-3f1c2a7b8e90").toString("base64url")])(
    "rejects %j with a 400",
    (cursor) => {
      expect(() => decodeCursor(cursor)).toThrow(expect.objectContaining({ status: 400 }));
    },
  );
});

describe("sniffMime", () => {
  const text = (s: string) => ({ head: Buffer.from(s), isText: true });
  it.each([
    [text("# Notes"), "notes.md", "text/markdown; charset=utf-8"],
    [text("a,b\n1,2"), "data.csv", "text/csv; charset=utf-8"],
    [text('{"a":1}'), "x.json", "application/json"],
    [text("print(1)"), "main.py", "text/x-python; charset=utf-8"],
    [text("hello"), "README", "text/plain; charset=utf-8"],
    [{ head: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]), isText: false }, "x.md", "image/png"],
    [{ head: Buffer.from("%PDF-1.7"), isText: true }, "doc.pdf", "application/pdf"],
    [{ head: Buffer.from([0x1f, 0x8b, 8]), isText: false }, "a.gz", "application/gzip"],
    [{ head: Buffer.from([0, 1, 2, 3]), isText: false }, "blob.bin", "application/octet-stream"],
  ])("%#: %s", (facts, name, mime) => {
    expect(sniffMime(facts, name)).toBe(mime);
  });
});

describe("contentTypeOf", () => {
  it.each([
    ["application/json", "a.json", '{"x":1}', "json"],
    ["application/json", "a.json", "{broken", undefined],
    ["text/csv; charset=utf-8", "a.csv", "a,b", "csv"],
    ["text/x-python; charset=utf-8", "a.py", "print(1)", "code"],
    ["text/markdown; charset=utf-8", "a.md", "# x", "text"],
    ["text/plain; charset=utf-8", "notes", "x", "text"],
    ["application/octet-stream", "a.bin", "x", undefined],
  ])("%s %s → %s", (mime, name, raw, type) => {
    expect(contentTypeOf(mime, name, raw)).toBe(type);
  });
});

describe("Utf8Checker", () => {
  const check = (...chunks: number[][]) => {
    const checker = new Utf8Checker();
    for (const c of chunks) checker.update(Buffer.from(c));
    return checker.end();
  };
  const euro = [...Buffer.from("€")]; // e2 82 ac

  it("accepts text split inside a character", () => {
    expect(check([0x61, euro[0]!], [euro[1]!, euro[2]!, 0x62])).toBe(true);
    expect(check([euro[0]!], [euro[1]!], [euro[2]!])).toBe(true);
  });
  it("rejects NUL, invalid bytes and a truncated end", () => {
    expect(check([0x61, 0x00])).toBe(false);
    expect(check([0xff, 0x61])).toBe(false);
    expect(check([0x61, euro[0]!, euro[1]!])).toBe(false);
  });
});

describe("globToRegExp", () => {
  it.each([
    ["*.py", "/src/deep/main.py", true],
    ["/docs/*.md", "/docs/sub/x.md", true],
    ["/docs/**", "/docs/a/b", true],
    ["/a?c.txt", "/abc.txt", true],
    ["/a?c.txt", "/ac.txt", false],
    ["*.PY", "/main.py", false],
    ["/my_file.py", "/myXfile.py", false],
    ["/100%.txt", "/100%.txt", true],
    ["/100%.txt", "/1000.txt", false],
    ["/a.b", "/axb", false],
  ])("%j matches %j: %s", (glob, path, matches) => {
    expect(globToRegExp(glob).test(path)).toBe(matches);
  });
});

describe("parseMeta", () => {
  it("accepts an object, nothing, or empty", () => {
    expect(parseMeta('{"a":1}')).toEqual({ a: 1 });
    expect(parseMeta(undefined)).toEqual({});
    expect(parseMeta("")).toEqual({});
  });
  it.each(["[1]", "3", '"s"', "null", "{bad"])("rejects %j", (value) => {
    expect(() => parseMeta(value)).toThrow(expect.objectContaining({ status: 400, message: "invalid meta JSON format" }));
  });
  it("rejects the reserved key", () => {
    expect(() => parseMeta('{"__artifact_info__":{}}')).toThrow(expect.objectContaining({ status: 400 }));
  });
});

describe("sizes", () => {
  it.each([
    ["1048576", 1048576],
    ["1GiB", 1024 ** 3],
    ["1gib", 1024 ** 3],
    ["16MB", 16_000_000],
    ["512k", 512 * 1024],
    ["1.5MiB", 1.5 * 1024 ** 2],
    ["12 KiB", 12 * 1024],
    ["ten", undefined],
    ["5 parsecs", undefined],
    ["-1", undefined],
  ])("parseSize(%j) = %s", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });
  it.each([
    [0, "0 B"],
    [1536, "1.5 KiB"],
    [1024 ** 3, "1 GiB"],
  ])("formatSize(%i) = %s", (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
});

describe("durations and remote command lines", async () => {
  const { parseDuration, commandFromArgv } = await import("../../src/shared/units.js");
  it.each([
    ["30s", 30],
    ["10m", 600],
    ["1h30m", 5400],
    ["90", 90],
    ["1.5m", 90],
    ["2d", 172800],
    ["0", undefined],
    ["soon", undefined],
    ["10 minutes", undefined],
    ["-5s", undefined],
  ])("parseDuration(%j) = %s", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([
    [["ls -la | wc -l"], "ls -la | wc -l"],
    [["echo", "hello world"], "echo 'hello world'"],
    [["printf", "%s\\n", "it's"], "printf '%s\\n' 'it'\\''s'"],
    [["python3", "-c", "print(1+1)"], "python3 -c 'print(1+1)'"],
    [["echo", "$HOME", "*"], "echo '$HOME' '*'"],
    [["ls", "/tmp"], "ls /tmp"],
  ])("%j → %s", (argv, command) => {
    expect(commandFromArgv(argv)).toBe(command);
  });
});

describe("exec options written into the command, for an API without them", async () => {
  const { inCommand } = await import("../../src/cli/remote-exec.js");
  it.each([
    [{ command: "ls" }, "eval ls"],
    [{ command: "pwd", cwd: "/tmp" }, "cd -- /tmp && eval pwd"],
    [{ command: "echo $A", env: { A: "x y" } }, "export A='x y'; eval 'echo $A'"],
    [{ command: 'cat "it\'s"', cwd: "/my dir", env: { A: "1", B: "'" } }, "export A=1; export B=''\\'''; cd -- '/my dir' && eval 'cat \"it'\\''s\"'"],
  ])("%j → %s", (spec, command) => {
    expect(inCommand(spec)).toEqual({ command });
  });
  it("refuses a timeout it cannot write in", () => {
    expect(() => inCommand({ command: "sleep 9", timeout: 5 })).toThrow("no timeout");
  });
});
