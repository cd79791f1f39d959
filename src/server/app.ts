// The embedded Acontext API as a Hono app. Built apart from the HTTP listener, so routes are
// tested with app.request() as well as over a real socket.
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono } from "hono";
import { EXTENSIONS_HEADER } from "../protocol/extensions.js";
import { bodyLimit } from "./body-limit.js";
import type { AppDeps } from "./deps.js";
import { ApiError, type AppEnv, envelope } from "./http.js";
import { artifactRoutes } from "./routes/artifacts.js";
import { diskRoutes } from "./routes/disks.js";
import { materialRoutes } from "./routes/material.js";
import { sandboxRoutes } from "./routes/sandboxes.js";

export function buildApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    c.res.headers.set(EXTENSIONS_HEADER, deps.extensions.join(","));
    deps.log(`${c.req.method} ${c.req.path} ${c.res.status} ${(performance.now() - started).toFixed(1)}ms`);
  });

  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(envelope(err.status, err.message, err.detail), err.status as 400);
    deps.log(`error: ${c.req.method} ${c.req.path}: ${(err as Error).stack ?? err}`);
    return c.json(envelope(500, "internal error"), 500);
  });
  app.notFound((c) => c.json(envelope(404, "not found", `no route for ${c.req.method} ${c.req.path}`), 404));

  app.get("/health", (c) => c.json({ code: 0, msg: "ok" }));
  app.route("/api/v1/material", materialRoutes(deps));

  const expected = digest(deps.apiKey);
  app.use("/api/v1/*", async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const given = header.startsWith("Bearer ") ? header.slice("Bearer ".length) : "";
    if (!given || !timingSafeEqual(digest(given), expected)) return c.json(envelope(401, "Unauthorized"), 401);
    await next();
  });
  // After the key check: a body sent without the key is never buffered.
  app.use("/api/v1/*", bodyLimit(deps.maxBodyBytes));
  app.get("/api/v1/ping", (c) => c.json({ code: 0, msg: "pong" }));
  app.get("/api/v1/server/status", (c) => c.json({ code: 0, data: deps.status(), msg: "" }));
  app.route("/api/v1/disk", diskRoutes(deps));
  app.route("/api/v1/disk/:diskId/artifact", artifactRoutes(deps));
  app.route("/api/v1/sandbox", sandboxRoutes(deps));
  return app;
}

/** Hashing both sides makes the comparison constant-time whatever the lengths. */
function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
