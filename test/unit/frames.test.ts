import { describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder, FrameTooLarge } from "../../src/protocol/frames.js";
import { parseTerminalSize } from "../../src/server/terminal.js";

describe("frames", () => {
  const all = Buffer.concat([encodeFrame("i", "hello"), encodeFrame("w", "24 80"), encodeFrame("i", ""), encodeFrame("x", Buffer.from([0, 255]))]);
  const expected = [
    { type: "i", data: "hello" },
    { type: "w", data: "24 80" },
    { type: "i", data: "" },
    { type: "x", data: "\u0000\u00ff" },
  ];

  it.each([1, 2, 5, 7, all.length])("decodes what was encoded, fed %i bytes at a time", (step) => {
    const decoder = new FrameDecoder(1024);
    const frames = [];
    for (let at = 0; at < all.length; at += step) frames.push(...decoder.push(all.subarray(at, at + step)));
    expect(frames.map((f) => ({ type: f.type, data: f.data.toString("latin1") }))).toEqual(expected);
  });

  it("refuses a length over the maximum before it has the bytes", () => {
    expect(() => new FrameDecoder(4).push(encodeFrame("i", "hello").subarray(0, 5))).toThrow(FrameTooLarge);
  });
});

describe("parseTerminalSize", () => {
  it.each([
    ["24 80", { rows: 24, cols: 80 }],
    ["1 1", { rows: 1, cols: 1 }],
    ["10000 10000", { rows: 10000, cols: 10000 }],
    ["0 80", undefined],
    ["24 10001", undefined],
    ["24", undefined],
    ["24  80", undefined],
    ["24 80 ", undefined],
    ["-1 80", undefined],
    ["24.5 80", undefined],
    ["", undefined],
  ])("%j → %j", (text, expected) => {
    expect(parseTerminalSize(text)).toEqual(expected);
  });
});
