// GET /api/v1/material/{token}: the public URL of an artifact, open without a key, until it expires.

import { statSync } from "node:fs";
import { Hono } from "hono";
import type { AppDeps } from "../deps.js";
import { ApiError, type AppEnv } from "../http.js";
import { sendBlob } from "./artifacts.js";

export function materialRoutes(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.get("/:token", (c) => {
    const token = c.req.param("token");
    const row = /^[0-9a-f]{64}$/.test(token) ? deps.store.getMaterial(token) : undefined;
    if (!row || !deps.blobs.has(row.sha256)) throw new ApiError(404, "material not found");
    const size = statSync(deps.blobs.path(row.sha256)).size;
    return sendBlob(c, row.sha256, size, row.mime, deps, {
      "Content-Disposition": `attachment; filename="${row.filename.replace(/["\\\r\n]/g, "_")}"`,
    });
  });
  return app;
}
