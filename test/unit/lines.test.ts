import { describe, expect, it } from "vitest";
import { LineTooLongError, lines } from "../../src/client/lines.js";

async function collect(chunks: string[]): Promise<string[]> {
  async function* source() {
    for (const chunk of chunks) yield Buffer.from(chunk);
  }
  const out: string[] = [];
  for await (const line of lines(source())) out.push(line);
  return out;
}

describe("lines", () => {
  it.each([
    { chunks: [], expected: [] },
    { chunks: ["a\nb\n"], expected: ["a", "b"] },
    { chunks: ["a\nb"], expected: ["a", "b"] },
    { chunks: ["a", "b", "c\n", "d"], expected: ["abc", "d"] },
    { chunks: ["a\r\nb\r\n"], expected: ["a", "b"] },
    { chunks: ["a\r", "\nb"], expected: ["a", "b"] },
    { chunks: ["\n\n"], expected: ["", ""] },
    { chunks: ["x\n", "", "y\n"], expected: ["x", "y"] },
    { chunks: ['{"a":1}\n{"b"', ":2}\n"], expected: ['{"a":1}', '{"b":2}'] },
  ])("$chunks → $expected", async ({ chunks, expected }) => {
    expect(await collect(chunks)).toEqual(expected);
  });

  it("keeps a multi-byte character split across chunks", async () => {
    const bytes = Buffer.from("é\n");
    async function* source() {
      yield bytes.subarray(0, 1);
      yield bytes.subarray(1);
    }
    const out: string[] = [];
    for await (const line of lines(source())) out.push(line);
    expect(out).toEqual(["é"]);
  });

  it("joins a long line from many chunks", async () => {
    const long = "x".repeat(1_000_000);
    const chunks = long.match(/.{1,1000}/g)!.concat(["\nend"]);
    expect(await collect(chunks)).toEqual([long, "end"]);
  });

  it("a line past maxBytes is an error as soon as it passes, with or without its end; lines up to it pass", async () => {
    const read = async (chunks: string[]) => {
      const out: string[] = [];
      async function* source() {
        for (const chunk of chunks) yield Buffer.from(chunk);
      }
      for await (const line of lines(source(), 10)) out.push(line);
      return out;
    };
    expect(await read(["0123456789\n", "abc"])).toEqual(["0123456789", "abc"]);
    await expect(read(["0123456789a\n"])).rejects.toThrow(LineTooLongError);
    await expect(read(["01234", "56789", "a"])).rejects.toThrow("a line longer than 10 bytes");
    // Never waits for the end of an endless line.
    async function* endless() {
      for (;;) yield Buffer.from("x".repeat(4));
    }
    await expect(
      (async () => {
        for await (const _ of lines(endless(), 10));
      })(),
    ).rejects.toThrow(LineTooLongError);
  });
});
