// The API client's failures, told apart by name. `acontext mcp` runs from its own bundle
// (scripts/build.js) and is handed the CLI's client: a class from this bundle would be another
// class than the one that threw, so `instanceof` cannot tell. The client names its errors.
import type { APIError, ConnectionError } from "../client/client.js";

export function asApiError(err: unknown): APIError | undefined {
  return err instanceof Error && err.name === "APIError" && typeof (err as APIError).status === "number" ? (err as APIError) : undefined;
}

export function isConnectionError(err: unknown): err is ConnectionError {
  return err instanceof Error && err.name === "ConnectionError";
}
