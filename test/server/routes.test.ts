// Every route's success and error paths, in-process (app.request) on a fresh data dir.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { inProcessApp, uploadForm } from "../helpers/server.js";

// biome-ignore lint/suspicious/noExplicitAny: JSON the tests inspect freely
type Body = { code: number; msg: string; data?: any; error?: string };

async function json(response: Response): Promise<Body> {
  expect(response.headers.get("content-type")).toMatch(/application\/json/);
  return (await response.json()) as Body;
}

async function setup() {
  const server = await inProcessApp();
  const created = await json(await server.request("/api/v1/disk", { method: "POST" }));
  const diskId: string = created.data.id;
  const upsert = (filename: string, content: string | Uint8Array, fields: Record<string, string> = {}) =>
    server.request(`/api/v1/disk/${diskId}/artifact`, { method: "POST", body: uploadForm(filename, content, fields) });
  const artifactUrl = (suffix = "", query: Record<string, string> = {}) => `/api/v1/disk/${diskId}/artifact${suffix}?${new URLSearchParams(query)}`;
  return { ...server, diskId, upsert, artifactUrl };
}

/** Files in the blob store and tmp/, to prove that rejected requests store nothing. */
async function storedFiles(dataDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const top of ["blobs", "tmp"]) {
    for (const entry of await readdir(join(dataDir, top), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) out.push(join(top, entry.name));
    }
  }
  return out;
}

describe("health, ping and auth", () => {
  it("GET /health is open; /api/v1 needs the bearer key", async () => {
    const { request } = await inProcessApp();
    expect(await json(await request("/health", { key: null }))).toEqual({ code: 0, msg: "ok" });
    expect(await json(await request("/api/v1/ping"))).toEqual({ code: 0, msg: "pong" });
    const attempts: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, { authorization: "sk-ac-test-key" }, { authorization: "Basic x" }];
    for (const headers of attempts) {
      const response = await request("/api/v1/ping", { key: null, headers });
      expect(response.status).toBe(401);
      expect(await json(response)).toEqual({ code: 401, msg: "Unauthorized" });
    }
  });

  it("every answer lists our extensions, so clients know this is not the upstream shape", async () => {
    const { request } = await inProcessApp();
    for (const response of [await request("/api/v1/ping"), await request("/api/v1/ping", { key: null }), await request("/api/v1/nope")]) {
      expect(response.headers.get("x-acontext-extensions")?.split(",")).toEqual([
        "exec-stream",
        "exec-stdin",
        "exec-options",
        "exec-tty",
        "transfer-tree",
        "sandbox-files",
      ]);
    }
  });

  it("unknown routes answer a 404 envelope", async () => {
    const { request } = await inProcessApp();
    const response = await request("/api/v1/nope");
    expect(response.status).toBe(404);
    expect(await json(response)).toMatchObject({ code: 404 });
  });
});

describe("disks", () => {
  it("creates with and without a user, lists with user filter", async () => {
    const { request } = await inProcessApp();
    const plain = await request("/api/v1/disk", { method: "POST" });
    expect(plain.status).toBe(201);
    const disk = (await json(plain)).data;
    expect(disk).toMatchObject({ user_id: null });
    expect(disk.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(disk.project_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(disk.created_at)).not.toBeNaN();

    const alice = await json(
      await request("/api/v1/disk", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: "alice@x" }) }),
    );
    expect(alice.data.user_id).toMatch(/^[0-9a-f-]{36}$/);
    const form = await json(
      await request("/api/v1/disk", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "user=alice%40x" }),
    );
    expect(form.data.user_id).toBe(alice.data.user_id);

    const listed = await json(await request("/api/v1/disk?user=alice%40x"));
    expect(listed.data.items.map((d: { id: string }) => d.id)).toEqual([alice.data.id, form.data.id]);
    expect(listed.data).toMatchObject({ has_more: false });
    expect(listed.data).not.toHaveProperty("next_cursor");
    expect((await json(await request("/api/v1/disk?user=nobody"))).data).toEqual({ items: [], has_more: false });
  });

  it("paginates with cursors in both directions", async () => {
    const { request } = await inProcessApp();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await json(await request("/api/v1/disk", { method: "POST" }))).data.id);
    const walk = async (timeDesc: boolean) => {
      const seen: string[] = [];
      let cursor = "";
      for (;;) {
        const page = (await json(await request(`/api/v1/disk?limit=2&time_desc=${timeDesc}${cursor ? `&cursor=${cursor}` : ""}`))).data;
        seen.push(...page.items.map((d: { id: string }) => d.id));
        if (!page.has_more) return seen;
        cursor = page.next_cursor;
      }
    };
    expect(await walk(false)).toEqual(ids);
    expect(await walk(true)).toEqual([...ids].reverse());
  });

  it.each([
    ["/api/v1/disk?limit=0", 400],
    ["/api/v1/disk?limit=201", 400],
    ["/api/v1/disk?limit=x", 400],
    ["/api/v1/disk?time_desc=maybe", 400],
    ["/api/v1/disk?cursor=garbage!", 400],
    [`/api/v1/disk?cursor=${Buffer.from("1|nope").toString("base64url")}`, 400],
  ])("GET %s → %i", async (path, status) => {
    const { request } = await inProcessApp();
    const response = await request(path);
    expect(response.status).toBe(status);
    expect(await json(response)).toMatchObject({ code: status });
  });

  it("rejects a body that is not JSON or a form", async () => {
    const { request } = await inProcessApp();
    for (const [type, body] of [
      ["application/json", "{"],
      ["application/json", '{"user": 5}'],
      ["text/plain", "user=x"],
    ]) {
      const response = await request("/api/v1/disk", { method: "POST", headers: { "content-type": type! }, body });
      expect(response.status, `${type} ${body}`).toBe(400);
    }
  });

  it("deletes a disk with its artifacts and their blobs", async () => {
    const { request, diskId, upsert, dataDir } = await setup();
    expect((await upsert("a.txt", "hello")).status).toBe(201);
    expect((await storedFiles(dataDir)).length).toBe(1);
    expect(await json(await request(`/api/v1/disk/${diskId}`, { method: "DELETE" }))).toEqual({ code: 0, msg: "" });
    expect(await storedFiles(dataDir)).toEqual([]);
    const again = await request(`/api/v1/disk/${diskId}`, { method: "DELETE" });
    expect(again.status).toBe(404);
    expect((await request("/api/v1/disk/not-a-uuid", { method: "DELETE" })).status).toBe(400);
  });
});

describe("artifacts", () => {
  it("upserts, gets with content and a public URL, downloads, and serves the URL without a key", async () => {
    const { request, upsert, artifactUrl, app } = await setup();
    const created = await upsert("notes.md", "# Meeting Notes", { file_path: "/documents/", meta: '{"author":"alice"}' });
    expect(created.status).toBe(201);
    const artifact = (await json(created)).data;
    expect(artifact).toMatchObject({
      path: "/documents/",
      filename: "notes.md",
      meta: { __artifact_info__: { path: "/documents/", filename: "notes.md", mime: "text/markdown; charset=utf-8", size: 15 }, author: "alice" },
    });

    const got = (await json(await request(artifactUrl("", { file_path: "/documents/notes.md", expire: "600" })))).data;
    expect(got.artifact).toEqual(artifact);
    expect(got.content).toEqual({ type: "text", raw: "# Meeting Notes" });
    expect(got.public_url).toMatch(/\/api\/v1\/material\/[0-9a-f]{64}$/);

    const material = await app.request(new URL(got.public_url).pathname);
    expect(material.status).toBe(200);
    expect(material.headers.get("content-disposition")).toBe('attachment; filename="notes.md"');
    expect(await material.text()).toBe("# Meeting Notes");
    expect((await app.request(`/api/v1/material/${"0".repeat(64)}`)).status).toBe(404);
    expect((await app.request("/api/v1/material/short")).status).toBe(404);

    const bare = (await json(await request(artifactUrl("", { file_path: "/documents/notes.md", with_public_url: "false", with_content: "false" })))).data;
    expect(bare).toEqual({ artifact });

    const download = await request(artifactUrl("/download", { file_path: "/documents/notes.md" }));
    expect(download.headers.get("content-type")).toBe("text/markdown; charset=utf-8");
    expect(download.headers.get("content-length")).toBe("15");
    expect(await download.text()).toBe("# Meeting Notes");
  });

  it("is binary-safe and types binary content", async () => {
    const { request, upsert, artifactUrl } = await setup();
    const bytes = new Uint8Array(256).map((_, i) => i);
    const created = (await json(await upsert("all.bin", bytes))).data;
    expect(created.meta.__artifact_info__).toMatchObject({ mime: "application/octet-stream", size: 256 });
    const got = (await json(await request(artifactUrl("", { file_path: "/all.bin" })))).data;
    expect(got).not.toHaveProperty("content");
    const download = await request(artifactUrl("/download", { file_path: "/all.bin" }));
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(bytes);
  });

  it("upsert replaces the artifact (new meta, new content) and frees the old blob", async () => {
    const { request, upsert, artifactUrl, dataDir } = await setup();
    await upsert("a.txt", "one", { meta: '{"v":1}' });
    const second = (await json(await upsert("a.txt", "two"))).data;
    expect(second.meta).toEqual({ __artifact_info__: { path: "/", filename: "a.txt", mime: "text/plain; charset=utf-8", size: 3 } });
    const download = await request(artifactUrl("/download", { file_path: "/a.txt" }));
    expect(await download.text()).toBe("two");
    expect((await storedFiles(dataDir)).length).toBe(1);
  });

  it("stores identical content once and keeps it while any artifact uses it", async () => {
    const { request, upsert, artifactUrl, dataDir } = await setup();
    await upsert("a.txt", "same");
    await upsert("b.txt", "same", { file_path: "/x/" });
    expect((await storedFiles(dataDir)).length).toBe(1);
    await request(artifactUrl("", { file_path: "/a.txt" }), { method: "DELETE" });
    expect((await storedFiles(dataDir)).length).toBe(1);
    expect(await (await request(artifactUrl("/download", { file_path: "/x/b.txt" }))).text()).toBe("same");
  });

  it("updates user meta (replacing it) and deletes", async () => {
    const { request, upsert, artifactUrl } = await setup();
    await upsert("r.txt", "x", { file_path: "/docs/", meta: '{"a":1}' });
    const put = await request(artifactUrl(), {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ file_path: "/docs/r.txt", meta: '{"b":2}' }),
    });
    expect(put.status).toBe(200);
    const updated = (await json(put)).data.artifact;
    expect(updated.meta).toMatchObject({ b: 2 });
    expect(updated.meta).not.toHaveProperty("a");
    expect(updated.meta.__artifact_info__.filename).toBe("r.txt");

    expect(await json(await request(artifactUrl("", { file_path: "/docs/r.txt" }), { method: "DELETE" }))).toEqual({ code: 0, msg: "" });
    const gone = await request(artifactUrl("", { file_path: "/docs/r.txt" }));
    expect(gone.status).toBe(404);
    expect(await json(gone)).toMatchObject({ code: 404, msg: "artifact not found" });
    expect((await request(artifactUrl("", { file_path: "/docs/r.txt" }), { method: "DELETE" })).status).toBe(404);
    const missingPut = await request(artifactUrl(), {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ file_path: "/docs/r.txt", meta: "{}" }),
    });
    expect(missingPut.status).toBe(404);
  });

  it("lists a directory: its artifacts and its child directories", async () => {
    const { request, upsert, artifactUrl } = await setup();
    for (const [name, dir] of [
      ["top.txt", "/"],
      ["a.md", "/docs/"],
      ["b.md", "/docs/"],
      ["deep.md", "/docs/2026/april/"],
      ["img.png", "/images/"],
    ]) {
      await upsert(name!, "x", { file_path: dir! });
    }
    const root = (await json(await request(artifactUrl("/ls")))).data;
    expect(root.artifacts.map((a: { filename: string }) => a.filename)).toEqual(["top.txt"]);
    expect(root.directories).toEqual(["docs", "images"]);
    const docs = (await json(await request(artifactUrl("/ls", { path: "/docs/" })))).data;
    expect(docs.artifacts.map((a: { filename: string }) => a.filename)).toEqual(["a.md", "b.md"]);
    expect(docs.directories).toEqual(["2026"]);
    expect((await json(await request(artifactUrl("/ls", { path: "/nothing/" })))).data).toEqual({ artifacts: [], directories: [] });
    const bad = await request(artifactUrl("/ls", { path: "/docs" }));
    expect(bad.status).toBe(400);
    expect((await json(bad)).msg).toBe("both ends of the path must be '/'");
  });

  it("greps text content case-insensitively and globs paths", async () => {
    const { request, upsert, artifactUrl } = await setup();
    await upsert("a.py", "def Hello():\n  pass\n", { file_path: "/src/" });
    await upsert("b.md", "nothing here", { file_path: "/docs/" });
    await upsert("c.bin", new Uint8Array([0, 104, 101, 108, 108, 111]));
    const grep = (query: string, limit?: string) => Promise.resolve(request(artifactUrl("/grep", { query, ...(limit ? { limit } : {}) }))).then(json);
    expect((await grep("hello")).data.map((a: { filename: string }) => a.filename)).toEqual(["a.py"]);
    expect((await grep("def \\w+\\(")).data.length).toBe(1);
    expect((await grep("x|y|nothing")).data.map((a: { filename: string }) => a.filename)).toEqual(["b.md"]);
    expect((await grep("(unclosed")).code).toBe(400);
    expect((await grep("a", "201")).code).toBe(400);

    const glob = (query: string) => Promise.resolve(request(artifactUrl("/glob", { query }))).then(json);
    expect((await glob("*.py")).data.map((a: { filename: string }) => a.filename)).toEqual(["a.py"]);
    expect((await glob("/docs/*")).data.map((a: { filename: string }) => a.filename)).toEqual(["b.md"]);
    expect((await glob("*")).data.length).toBe(3);
  });

  it("grep (in its worker thread) matches per line, honours limit, and reads text files only", async () => {
    const { request, upsert, artifactUrl } = await setup();
    await upsert("one.txt", "first\nHello World\nlast\n");
    await upsert("two.md", "hello world", { file_path: "/docs/" });
    await upsert("three.bin", new Uint8Array([0, 104, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100]));
    const names = async (query: string, limit?: string) =>
      (await json(await request(artifactUrl("/grep", { query, ...(limit ? { limit } : {}) })))).data.map((a: { filename: string }) => a.filename);
    expect(await names("^hello world$")).toEqual(["one.txt", "two.md"]);
    expect(await names("^hello world$", "1")).toEqual(["one.txt"]);
    expect(await names("^first$\\n^HELLO")).toEqual(["one.txt"]);
    expect(await names("nowhere")).toEqual([]);
  });
});

describe("bad input stores nothing", () => {
  it.each<[string, () => FormData | string, Record<string, string>, number, string]>([
    [
      "missing file",
      () => {
        const f = new FormData();
        f.append("file_path", "/");
        return f;
      },
      {},
      400,
      "file is required",
    ],
    ["traversal in file_path", () => uploadForm("a.txt", "x", { file_path: "/a/../../etc/" }), {}, 400, "invalid path"],
    ["dot-only segment", () => uploadForm("a.txt", "x", { file_path: "/a/.../" }), {}, 400, "invalid path"],
    ["NUL in path", () => uploadForm("a.txt", "x", { file_path: "/a\0b/" }), {}, 400, "invalid path"],
    ["dot-dot filename", () => uploadForm("..", "x"), {}, 400, "invalid path"],
    // Upstream silently stores "/noslash" into "/"; a directory without its "/" is refused, with why.
    ["file_path without a trailing /", () => uploadForm("a.txt", "x", { file_path: "/noslash" }), {}, 400, 'file_path is a directory and must end with "/"'],
    ["meta not JSON", () => uploadForm("a.txt", "x", { meta: "{nope" }), {}, 400, "invalid meta JSON format"],
    ["meta an array", () => uploadForm("a.txt", "x", { meta: "[1,2]" }), {}, 400, "invalid meta JSON format"],
    ["reserved meta key", () => uploadForm("a.txt", "x", { meta: '{"__artifact_info__":1}' }), {}, 400, "parameter error"],
    ["a JSON body", () => JSON.stringify({ file: "x" }), { "content-type": "application/json" }, 400, "parameter error"],
    ["malformed multipart", () => "--nope\r\ngarbage", { "content-type": "multipart/form-data; boundary=nope" }, 400, "invalid multipart body"],
    ["multipart without boundary", () => "x", { "content-type": "multipart/form-data" }, 400, "invalid multipart body"],
  ])("%s", async (_name, body, headers, status, msg) => {
    const { request, diskId, dataDir } = await setup();
    const response = await request(`/api/v1/disk/${diskId}/artifact`, { method: "POST", body: body(), headers });
    expect(response.status).toBe(status);
    expect(await json(response)).toMatchObject({ code: status, msg });
    expect(await storedFiles(dataDir)).toEqual([]);
  });

  it("a file over --max-upload is a 413 and stores nothing", async () => {
    const server = await inProcessApp({ maxUploadBytes: 1000 });
    const diskId = (await json(await server.request("/api/v1/disk", { method: "POST" }))).data.id;
    const ok = await server.request(`/api/v1/disk/${diskId}/artifact`, { method: "POST", body: uploadForm("ok.bin", new Uint8Array(1000)) });
    expect(ok.status).toBe(201);
    const big = await server.request(`/api/v1/disk/${diskId}/artifact`, { method: "POST", body: uploadForm("big.bin", new Uint8Array(1001)) });
    expect(big.status).toBe(413);
    expect(await json(big)).toMatchObject({ code: 413 });
    expect((await storedFiles(server.dataDir)).length).toBe(1);
  });

  it.each([
    ["not a uuid", (_d: string) => "/api/v1/disk/not-a-uuid/artifact?file_path=/a.txt", 400],
    ["unknown disk", (_d: string) => "/api/v1/disk/00000000-0000-4000-8000-000000000000/artifact?file_path=/a.txt", 404],
    ["missing file_path", (d: string) => `/api/v1/disk/${d}/artifact`, 400],
    ["traversal", (d: string) => `/api/v1/disk/${d}/artifact?file_path=/a/../b.txt`, 400],
    ["percent-encoded traversal", (d: string) => `/api/v1/disk/${d}/artifact?file_path=/a/%2e%2e/b.txt`, 400],
    ["bad boolean", (d: string) => `/api/v1/disk/${d}/artifact?file_path=/a.txt&with_content=sure`, 400],
    ["bad expire", (d: string) => `/api/v1/disk/${d}/artifact?file_path=/a.txt&expire=-5`, 400],
    ["directory, no filename", (d: string) => `/api/v1/disk/${d}/artifact?file_path=/docs/`, 404],
    ["download of a missing artifact", (d: string) => `/api/v1/disk/${d}/artifact/download?file_path=/none.txt`, 404],
  ])("GET artifact: %s → %i", async (_name, path, status) => {
    const { request, diskId } = await setup();
    const response = await request(path(diskId));
    expect(response.status).toBe(status);
    expect(await json(response)).toMatchObject({ code: status });
  });

  it.each([
    ["meta as an object", { file_path: "/a.txt", meta: { a: 1 } }, 400],
    ["no file_path", { meta: "{}" }, 400],
    ["reserved key", { file_path: "/a.txt", meta: '{"__artifact_info__":{}}' }, 400],
  ])("PUT artifact: %s → %i", async (_name, body, status) => {
    const { request, artifactUrl, upsert } = await setup();
    await upsert("a.txt", "x");
    const response = await request(artifactUrl(), { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(response.status).toBe(status);
  });
});
