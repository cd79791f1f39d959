// A Cloudflare Sandbox Worker that speaks the Acontext sandbox worker protocol:
// the Acontext core (or `acontext server` with the cloudflare backend) calls these routes
// to run sandboxes as Cloudflare Containers.
import { getSandbox } from "@cloudflare/sandbox";

export { Sandbox } from "@cloudflare/sandbox";

type WorkerEnv = Env & { AUTH_TOKEN?: string };

const DEFAULT_KEEPALIVE_SECONDS = 600;

const ENDPOINTS = [
  "POST /sandbox/create            {sandbox_id, keepalive_seconds?}",
  "GET  /sandbox/:id               ?keepalive_seconds=N",
  "POST /sandbox/:id/update        {keepalive_longer_by_seconds}",
  "POST /sandbox/:id/exec          {command, keepalive_seconds?}",
  "POST /sandbox/:id/download      {file_path}",
  "POST /sandbox/:id/upload        {file_path, content, encoding?}",
  "POST /sandbox/:id/kill",
];

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export default {
  async fetch(request: Request, env: WorkerEnv): Promise<Response> {
    try {
      if (env.AUTH_TOKEN && !(await isAuthorized(request, env.AUTH_TOKEN))) {
        throw new HttpError(401, "Unauthorized");
      }
      return await route(request, env);
    } catch (err) {
      if (err instanceof HttpError) return json({ error: err.message }, err.status);
      return json({ error: err instanceof Error ? err.message : String(err) }, 500);
    }
  },
} satisfies ExportedHandler<WorkerEnv>;

async function route(request: Request, env: WorkerEnv): Promise<Response> {
  const { pathname, searchParams } = new URL(request.url);
  if (pathname === "/") {
    return json({ service: "acontext-sandbox-cloudflare", endpoints: ENDPOINTS });
  }
  if (pathname === "/sandbox/create") {
    requireMethod(request, "POST");
    const body = await readBody(request);
    const id = requireString(body, "sandbox_id");
    const keepalive = optionalSeconds(body, "keepalive_seconds") ?? DEFAULT_KEEPALIVE_SECONDS;
    // The first exec starts the container, so a create that answers means a usable sandbox.
    await sandbox(env, id, keepalive).exec("true");
    return json(runtimeInfo(id, keepalive));
  }

  const match = /^\/sandbox\/([^/]+)(?:\/(update|exec|download|upload|kill))?$/.exec(pathname);
  if (!match) throw new HttpError(404, `No route for ${request.method} ${pathname}`);
  const id = decodeURIComponent(match[1]);
  const action = match[2];

  if (!action) {
    requireMethod(request, "GET");
    const keepalive = parseSeconds(searchParams.get("keepalive_seconds"), "keepalive_seconds");
    try {
      await sandbox(env, id, keepalive ?? DEFAULT_KEEPALIVE_SECONDS).exec("true");
      return json(runtimeInfo(id, keepalive));
    } catch (err) {
      // The Acontext core reads a 200 with status "unknown" as "not reachable right now".
      return json({ ...runtimeInfo(id, keepalive), sandbox_status: "unknown", error: String(err) });
    }
  }

  requireMethod(request, "POST");
  const body = action === "kill" ? {} : await readBody(request);
  const keepalive = optionalSeconds(body, "keepalive_seconds") ?? DEFAULT_KEEPALIVE_SECONDS;

  switch (action) {
    case "update": {
      const longer = optionalSeconds(body, "keepalive_longer_by_seconds");
      if (!longer) throw new HttpError(400, "keepalive_longer_by_seconds must be a positive integer");
      await sandbox(env, id, longer).exec("true");
      return json(runtimeInfo(id, longer));
    }
    case "exec": {
      const command = requireString(body, "command");
      const result = await sandbox(env, id, keepalive).exec(command);
      return json({
        stdout: result.stdout,
        stderr: result.stderr,
        exit_code: result.exitCode ?? (result.success ? 0 : 1),
      });
    }
    case "download": {
      const path = requireString(body, "file_path");
      try {
        const file = await sandbox(env, id, keepalive).readFile(path, { encoding: "base64" });
        const content = file.encoding === "base64" ? file.content : toBase64(file.content);
        return json({ content, encoding: "base64" });
      } catch (err) {
        if (isNotFound(err)) throw new HttpError(404, `File not found: ${path}`);
        throw err;
      }
    }
    case "upload": {
      const path = requireString(body, "file_path");
      const content = typeof body.content === "string" ? body.content : undefined;
      if (content === undefined) throw new HttpError(400, "content must be a string");
      const encoding = body.encoding ?? "utf-8";
      if (encoding !== "utf-8" && encoding !== "base64") {
        throw new HttpError(400, 'encoding must be "utf-8" or "base64"');
      }
      const box = sandbox(env, id, keepalive);
      const dir = path.slice(0, path.lastIndexOf("/"));
      if (dir) await box.mkdir(dir, { recursive: true });
      await box.writeFile(path, content, { encoding });
      return json({ success: true });
    }
    case "kill":
      await sandbox(env, id, keepalive).destroy();
      return json({ success: true });
  }
  throw new HttpError(404, `No route for ${request.method} ${pathname}`);
}

function sandbox(env: WorkerEnv, id: string, keepaliveSeconds: number) {
  return getSandbox(env.Sandbox, id, { sleepAfter: keepaliveSeconds });
}

function runtimeInfo(id: string, keepaliveSeconds: number | undefined) {
  const now = new Date();
  return {
    sandbox_id: id,
    sandbox_status: "running",
    sandbox_created_at: now.toISOString(),
    sandbox_expires_at: keepaliveSeconds ? new Date(now.getTime() + keepaliveSeconds * 1000).toISOString() : null,
  };
}

async function isAuthorized(request: Request, token: string): Promise<boolean> {
  const header = request.headers.get("Authorization") ?? "";
  const given = header.startsWith("Bearer ") ? header.slice("Bearer ".length) : "";
  const encoder = new TextEncoder();
  // Hash both sides so the comparison is constant-time and length-independent.
  const [a, b] = await Promise.all([given, token].map((s) => crypto.subtle.digest("SHA-256", encoder.encode(s))));
  return crypto.subtle.timingSafeEqual(a, b);
}

async function readBody(request: Request): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    throw new HttpError(400, "Request body must be JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, "Request body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

function requireMethod(request: Request, method: string): void {
  if (request.method !== method) {
    throw new HttpError(405, `Method ${request.method} not allowed; use ${method}`);
  }
}

function requireString(body: Record<string, unknown>, key: string): string {
  const value = body[key];
  if (typeof value !== "string" || value === "") throw new HttpError(400, `${key} is required`);
  return value;
}

function optionalSeconds(body: Record<string, unknown>, key: string): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new HttpError(400, `${key} must be a positive integer`);
  }
  return value;
}

function parseSeconds(value: string | null, key: string): number | undefined {
  if (value === null || value === "") return undefined;
  return optionalSeconds({ [key]: Number(value) }, key);
}

function isNotFound(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "FILE_NOT_FOUND" || /not found|no such file/i.test(String(err));
}

function toBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function json(body: unknown, status = 200): Response {
  return Response.json(body, { status });
}
