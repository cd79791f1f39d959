// Which Acontext API a command talks to, and where that choice came from. Pure: the caller
// gathers flags, environment and the saved profile; `resolveTarget` applies the precedence.

import { UsageError } from "../shared/errors.js";

export const CLOUD_BASE_URL = "https://api.acontext.app/api/v1";

/** Where a setting came from; "default" is the hosted cloud's URL, taken when only a key is set. */
export type TargetSource = "flag" | "env" | "profile" | "local" | "default";

export interface TargetInput {
  flags: { baseUrl?: string; apiKey?: string };
  env: NodeJS.ProcessEnv;
  profile?: { base_url?: string; api_key?: string };
}

/** A remote API with everything needed to call it, or the embedded local server. */
export type Target = { kind: "remote"; baseUrl: string; apiKey: string; baseUrlSource: TargetSource; apiKeySource: TargetSource } | { kind: "local" };

/** A bad URL or a missing key: a usage error (exit 2) with its hint, wherever it comes from. */
export class TargetError extends UsageError {
  declare readonly hint: string;
}

/**
 * Flag > environment (ACONTEXT_BASE_URL, ACONTEXT_API_KEY) > saved profile > the embedded server.
 * Each of the two settings is taken from the first place that has it; a key without a URL means
 * the hosted cloud, and a URL without a key is an error.
 */
export function resolveTarget(input: TargetInput): Target {
  const pick = (flag: string | undefined, env: string | undefined, profile: string | undefined) =>
    flag
      ? { value: flag, source: "flag" as const }
      : env
        ? { value: env, source: "env" as const }
        : profile
          ? { value: profile, source: "profile" as const }
          : undefined;
  const baseUrl = pick(input.flags.baseUrl, input.env.ACONTEXT_BASE_URL, input.profile?.base_url);
  const apiKey = pick(input.flags.apiKey, input.env.ACONTEXT_API_KEY, input.profile?.api_key);
  if (!baseUrl && !apiKey) return { kind: "local" };
  if (!apiKey) {
    throw new TargetError(`no API key for ${normalizeBaseUrl(baseUrl!.value)}`, "pass --api-key, set ACONTEXT_API_KEY, or run `acontext login --api-key …`");
  }
  return {
    kind: "remote",
    baseUrl: normalizeBaseUrl(baseUrl?.value ?? CLOUD_BASE_URL),
    apiKey: apiKey.value,
    baseUrlSource: baseUrl?.source ?? "default",
    apiKeySource: apiKey.source,
  };
}

/** `http://host:8029`, `http://host:8029/`, `http://host:8029/api/v1/` → `http://host:8029/api/v1`. */
export function normalizeBaseUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new TargetError(`"${input}" is not a URL`, "a base URL looks like http://localhost:8029 or https://api.acontext.app/api/v1");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TargetError(`"${input}" is not an http(s) URL`, "a base URL looks like http://localhost:8029 or https://api.acontext.app/api/v1");
  }
  const path = url.pathname.replace(/\/+$/, "");
  url.pathname = path.endsWith("/api/v1") ? path : `${path}/api/v1`;
  url.search = "";
  url.hash = "";
  return url.toString().replace(/\/+$/, "");
}

/** The API a target names, for messages: "the hosted cloud at https://…" or the URL itself. */
export function describeApi(baseUrl: string): string {
  return baseUrl === CLOUD_BASE_URL ? `the hosted cloud at ${baseUrl}` : baseUrl;
}

/** Where a URL or key came from, as the user set it. */
export function sourceName(source: TargetSource | "data dir", what: "url" | "key"): string {
  switch (source) {
    case "flag":
      return what === "url" ? "--base-url" : "--api-key";
    case "env":
      return what === "url" ? "ACONTEXT_BASE_URL" : "ACONTEXT_API_KEY";
    case "profile":
      return "acontext login";
    default:
      return source;
  }
}

/** Why commands use this base URL: "from ACONTEXT_BASE_URL", or "the default: ACONTEXT_API_KEY is set without a base URL". */
export function urlOrigin(target: { baseUrlSource: TargetSource; apiKeySource: TargetSource | "data dir" }): string {
  if (target.baseUrlSource !== "default") return `from ${sourceName(target.baseUrlSource, "url")}`;
  return `the default: ${sourceName(target.apiKeySource, "key")} is set without a base URL`;
}

/** The note every command prints when a key alone sends it to the hosted cloud. */
export function keyOnlyNote(apiKeySource: TargetSource): string {
  return `using ${describeApi(CLOUD_BASE_URL)} (${urlOrigin({ baseUrlSource: "default", apiKeySource })}; set ACONTEXT_BASE_URL for another API)`;
}
