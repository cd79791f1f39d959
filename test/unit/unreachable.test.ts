// What a sandbox with network may not reach: well-formed ranges, the host's networks among them,
// none twice, and none over a backend's own network.
import { describe, expect, it } from "vitest";
import { hostAddresses, hostNetworks, unreachableNets } from "../../src/sandbox/unreachable.js";

/** A range as numbers: its start and whether its host bits are clear. */
function parse(range: string): { start: number; clean: boolean } {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(range);
  if (!match) throw new Error(`not a range: ${range}`);
  const start = match.slice(1, 5).reduce((sum, part) => sum * 256 + Number(part), 0);
  return { start, clean: start % 2 ** (32 - Number(match[5])) === 0 };
}

const FIXED = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10", "224.0.0.0/4", "240.0.0.0/4"];

describe("unreachable ranges", () => {
  it("are ranges with their host bits clear, each once, the host's addresses and networks among them", () => {
    const ranges = unreachableNets();
    for (const range of ranges) expect(parse(range).clean, range).toBe(true);
    expect(new Set(ranges).size).toBe(ranges.length);
    for (const range of [...hostAddresses(), ...hostNetworks()]) expect(ranges).toContain(range);
    for (const fixed of FIXED) expect(ranges).toContain(fixed);
  });

  it("leave out a host network over a backend's own (slirp4netns's 10.0.2.0/24), never the host's own addresses", () => {
    const everyNetwork = unreachableNets("0.0.0.0/0");
    for (const network of hostNetworks()) {
      if (![...FIXED, ...hostAddresses()].includes(network)) expect(everyNetwork).not.toContain(network);
    }
    for (const address of hostAddresses()) expect(everyNetwork).toContain(address);
  });
});
