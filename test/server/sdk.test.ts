// Wire compatibility: the official TypeScript SDK from npm (@acontext/acontext 0.0.16) runs a full
// disk and artifact workflow against the real server, started as `acontext server start` on a
// random port with a temp data dir.
import { randomBytes } from "node:crypto";
import { AcontextClient, APIError, FileUpload } from "@acontext/acontext";
import { describe, expect, it } from "vitest";
import { startServerProcess, TEST_KEY } from "../helpers/server.js";

describe("the official SDK against the embedded server", () => {
  it("creates, lists, upserts, gets, updates, lists files, deletes", async () => {
    const server = await startServerProcess();
    const client = new AcontextClient({ apiKey: TEST_KEY, baseUrl: `${server.url}/api/v1` });
    expect(await client.ping()).toBe("pong");

    // disks, with pagination
    const disks = [];
    for (let i = 0; i < 3; i++) disks.push(await client.disks.create());
    const first = await client.disks.list({ limit: 2 });
    expect(first.items.map((d) => d.id)).toEqual([disks[0]!.id, disks[1]!.id]);
    expect(first.has_more).toBe(true);
    const second = await client.disks.list({ limit: 2, cursor: first.next_cursor });
    expect(second.items.map((d) => d.id)).toEqual([disks[2]!.id]);
    expect(second.has_more).toBe(false);
    const newestFirst = await client.disks.list({ timeDesc: true });
    expect(newestFirst.items[0]!.id).toBe(disks[2]!.id);
    const disk = disks[0]!;

    // text, binary and large upserts
    const text = await client.disks.artifacts.upsert(disk.id, {
      file: new FileUpload({ filename: "notes.md", content: Buffer.from("# Meeting Notes\nship it\n") }),
      filePath: "/documents/",
      meta: { author: "alice" },
    });
    expect(text).toMatchObject({ path: "/documents/", filename: "notes.md", meta: { author: "alice" } });
    const binary = randomBytes(64 * 1024);
    await client.disks.artifacts.upsert(disk.id, { file: ["blob.bin", binary], filePath: "/data/" });
    const large = Buffer.alloc(8 * 1024 * 1024, "x");
    const largeArtifact = await client.disks.artifacts.upsert(disk.id, { file: ["large.txt", large, "text/plain"], filePath: "/data/" });
    expect((largeArtifact.meta as { __artifact_info__: { size: number } }).__artifact_info__.size).toBe(large.length);

    // get with content and a public URL that works without the key
    const got = await client.disks.artifacts.get(disk.id, { filePath: "/documents/", filename: "notes.md", withPublicUrl: true, withContent: true });
    expect(got.content).toEqual({ type: "text", raw: "# Meeting Notes\nship it\n" });
    const fetched = await fetch(got.public_url!);
    expect(fetched.status).toBe(200);
    expect(await fetched.text()).toBe("# Meeting Notes\nship it\n");
    const binaryUrl = (await client.disks.artifacts.get(disk.id, { filePath: "/data/", filename: "blob.bin" })).public_url!;
    expect(Buffer.from(await (await fetch(binaryUrl)).arrayBuffer())).toEqual(binary);

    // update meta, list, delete
    const updated = await client.disks.artifacts.update(disk.id, { filePath: "/documents/", filename: "notes.md", meta: { reviewed: true } });
    expect(updated.artifact.meta).toMatchObject({ reviewed: true });
    expect(updated.artifact.meta).not.toHaveProperty("author");
    const root = await client.disks.artifacts.list(disk.id, { path: "/" });
    expect(root.directories.sort()).toEqual(["data", "documents"]);
    const data = await client.disks.artifacts.list(disk.id, { path: "/data/" });
    expect(data.artifacts.map((a) => a.filename)).toEqual(["blob.bin", "large.txt"]);
    await client.disks.artifacts.delete(disk.id, { filePath: "/data/", filename: "blob.bin" });
    expect((await client.disks.artifacts.list(disk.id, { path: "/data/" })).artifacts.map((a) => a.filename)).toEqual(["large.txt"]);

    // errors carry the right status
    const missing = await client.disks.artifacts.get(disk.id, { filePath: "/", filename: "nope.txt" }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(APIError);
    expect(missing).toMatchObject({ statusCode: 404, code: 404, message: "artifact not found" });
    const unauthorized = await new AcontextClient({ apiKey: "sk-ac-wrong", baseUrl: `${server.url}/api/v1` }).disks.list().catch((e: unknown) => e);
    expect(unauthorized).toMatchObject({ statusCode: 401 });
    const badDisk = await client.disks.delete("not-a-uuid").catch((e: unknown) => e);
    expect(badDisk).toMatchObject({ statusCode: 400 });

    await client.disks.delete(disk.id);
    const afterDelete = await client.disks.artifacts.list(disk.id).catch((e: unknown) => e);
    expect(afterDelete).toMatchObject({ statusCode: 404 });
    expect((await client.disks.list()).items.map((d) => d.id)).toEqual([disks[1]!.id, disks[2]!.id]);
  });
});
