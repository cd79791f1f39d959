// What the routes are given: the stores, the limits, the sandbox service (where there is one).
// Apart from app.ts, so that the app and its routes do not import each other.
import type { BlobStore } from "./blobs.js";
import { ApiError } from "./http.js";
import type { SandboxService } from "./sandboxes.js";
import type { Store } from "./store.js";

export interface AppDeps {
  store: Store;
  blobs: BlobStore;
  apiKey: string;
  maxUploadBytes: number;
  /** Bytes one disk may hold, its artifacts together. */
  diskQuotaBytes: number;
  /** Largest JSON or form body (uploads and streamed exec stdin have bounds of their own). */
  maxBodyBytes: number;
  /** Buffered (JSON) execs at once, server-wide (DEFAULT_MAX_BUFFERED_EXECS where not given); more is a 429. */
  maxBufferedExecs?: number;
  /** One line per request (method, path, status, ms) and unexpected errors. */
  log: (line: string) => void;
  /** Sandboxes, where this machine can run them. */
  sandboxes?: SandboxService;
  /** Why there are none, for the 503 answer. */
  sandboxesUnavailable?: string;
  /** Our API extensions this server offers, for the header on every answer. */
  extensions: readonly string[];
  /** What GET /api/v1/server/status answers (an extension for `acontext server status`). */
  status: () => Record<string, unknown>;
}

/** The sandbox service, or a 503 that says why this server has none. */
export function requireSandboxes(deps: AppDeps): SandboxService {
  if (!deps.sandboxes) throw new ApiError(503, "sandboxes are not available on this server", deps.sandboxesUnavailable);
  return deps.sandboxes;
}
