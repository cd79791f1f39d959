import { describe, expect, it } from "vitest";
import { CLOUD_BASE_URL, normalizeBaseUrl, resolveTarget, type TargetInput } from "../../src/cli/target.js";

describe("resolveTarget", () => {
  const none: TargetInput = { flags: {}, env: {} };
  it.each<[string, TargetInput, object]>([
    ["nothing: the local server", none, { kind: "local" }],
    [
      "flags",
      { ...none, flags: { baseUrl: "http://a:1", apiKey: "k1" } },
      { baseUrl: "http://a:1/api/v1", apiKey: "k1", baseUrlSource: "flag", apiKeySource: "flag" },
    ],
    [
      "env",
      { ...none, env: { ACONTEXT_BASE_URL: "http://b:2", ACONTEXT_API_KEY: "k2" } },
      { baseUrl: "http://b:2/api/v1", baseUrlSource: "env", apiKeySource: "env" },
    ],
    ["profile", { ...none, profile: { base_url: "http://c:3/api/v1", api_key: "k3" } }, { baseUrl: "http://c:3/api/v1", baseUrlSource: "profile" }],
    [
      "flag beats env beats profile, per setting",
      { flags: { apiKey: "kf" }, env: { ACONTEXT_BASE_URL: "http://env:1" }, profile: { base_url: "http://p:1", api_key: "kp" } },
      { baseUrl: "http://env:1/api/v1", apiKey: "kf", baseUrlSource: "env", apiKeySource: "flag" },
    ],
    [
      "a key alone means the cloud, by default",
      { ...none, env: { ACONTEXT_API_KEY: "k" } },
      { baseUrl: CLOUD_BASE_URL, baseUrlSource: "default", apiKeySource: "env" },
    ],
  ])("%s", (_name, input, expected) => {
    expect(resolveTarget(input)).toMatchObject(expected);
  });

  it("a URL without a key is an error with a hint", () => {
    expect(() => resolveTarget({ flags: { baseUrl: "http://x:1" }, env: {} })).toThrow(
      expect.objectContaining({ message: "no API key for http://x:1/api/v1", hint: expect.stringContaining("acontext login") }),
    );
  });
});

describe("normalizeBaseUrl", () => {
  it.each([
    ["http://localhost:8029", "http://localhost:8029/api/v1"],
    ["http://localhost:8029/", "http://localhost:8029/api/v1"],
    ["http://localhost:8029/api/v1/", "http://localhost:8029/api/v1"],
    ["https://api.acontext.app/api/v1", "https://api.acontext.app/api/v1"],
    ["https://host/prefix?x=1", "https://host/prefix/api/v1"],
  ])("%s → %s", (input, output) => {
    expect(normalizeBaseUrl(input)).toBe(output);
  });
  it.each(["localhost:8029", "ftp://x", "not a url"])("rejects %j", (input) => {
    expect(() => normalizeBaseUrl(input)).toThrow();
  });
});
