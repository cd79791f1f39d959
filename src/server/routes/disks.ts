// /disk: create, list (cursor pagination), delete.
import { Hono } from "hono";
import type { AppDeps } from "../deps.js";
import { ApiError, type AppEnv, ok, okEmpty, parseBool, parseInteger, parseUuid } from "../http.js";

export function diskRoutes(deps: AppDeps) {
  const { store, blobs } = deps;
  const app = new Hono<AppEnv>();

  app.post("/", async (c) => {
    const user = await userField(c.req.header("content-type"), () => c.req.text());
    return ok(c, store.createDisk(user), 201);
  });

  app.get("/", (c) => {
    const page = store.listDisks({
      user: c.req.query("user") || undefined,
      limit: parseInteger(c.req.query("limit"), "limit", { fallback: 20, min: 1, max: 200 }),
      cursor: c.req.query("cursor") || undefined,
      timeDesc: parseBool(c.req.query("time_desc"), "time_desc", false),
    });
    return ok(c, page);
  });

  app.delete("/:diskId", (c) => {
    const id = parseUuid(c.req.param("diskId"));
    if (!store.hasDisk(id)) throw new ApiError(404, "disk not found");
    for (const sha of store.deleteDisk(id)) blobs.removeUnless(sha, store.isBlobReferenced);
    return okEmpty(c);
  });

  return app;
}

/** The optional `user` of POST /disk: JSON `{"user": …}`, a form field, or no body at all. */
async function userField(contentType: string | undefined, text: () => Promise<string>): Promise<string | undefined> {
  const body = await text();
  if (body.trim() === "") return undefined;
  let user: unknown;
  if (/application\/json/i.test(contentType ?? "")) {
    try {
      user = (JSON.parse(body) as { user?: unknown } | null)?.user;
    } catch {
      throw new ApiError(400, "parameter error", "the body must be a JSON object");
    }
  } else if (/application\/x-www-form-urlencoded/i.test(contentType ?? "")) {
    user = new URLSearchParams(body).get("user") ?? undefined;
  } else {
    throw new ApiError(400, "parameter error", 'the body must be JSON ({"user": "…"}) or empty');
  }
  if (user === undefined || user === null || user === "") return undefined;
  if (typeof user !== "string") throw new ApiError(400, "parameter error", "user must be a string");
  return user;
}
