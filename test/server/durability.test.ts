// Durability with a real child-process server: SIGKILL in the middle of an upload, SIGTERM with an
// upload in flight, and two clients writing the same path at once.
import { createHash, randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sleep } from "../../src/shared/processes.js";
import { type ServerProcess, startServerProcess, TEST_KEY, uploadForm } from "../helpers/server.js";

const BOUNDARY = "acontext-test-boundary";

/**
 * Starts a multipart upload whose body the test writes by hand, so it can stop half-way.
 * Returns the request and a promise of the response status (or the error).
 */
function openUpload(server: ServerProcess, diskId: string, filename: string) {
  const url = new URL(`${server.url}/api/v1/disk/${diskId}/artifact`);
  const req = request(url, {
    method: "POST",
    headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": `multipart/form-data; boundary=${BOUNDARY}` },
  });
  const status = new Promise<number | Error>((resolve) => {
    req.once("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once("error", resolve);
  });
  req.write(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file_path"\r\n\r\n/partial/\r\n`);
  req.write(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  return {
    req,
    status,
    finish: () => req.end(`\r\n--${BOUNDARY}--\r\n`),
  };
}

/** Waits until the server has started writing an upload into tmp/ (a state, not a delay). */
async function untilStaging(dataDir: string): Promise<void> {
  while ((await readdir(join(dataDir, "tmp"))).length === 0) await sleep(20);
}

async function newDisk(server: ServerProcess): Promise<string> {
  return ((await (await server.api("/disk", { method: "POST" })).json()) as { data: { id: string } }).data.id;
}

async function blobCount(dataDir: string): Promise<number> {
  return (await readdir(join(dataDir, "blobs"), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
}

const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

describe("durability", () => {
  it("SIGKILL mid-upload: acknowledged artifacts survive, the partial one leaves nothing", async () => {
    const first = await startServerProcess();
    const diskId = await newDisk(first);
    const kept = randomBytes(256 * 1024);
    const ack = await first.api(`/disk/${diskId}/artifact`, { method: "POST", body: uploadForm("kept.bin", kept, { file_path: "/safe/" }) });
    expect(ack.status).toBe(201);

    const upload = openUpload(first, diskId, "partial.bin");
    upload.req.write(randomBytes(2 * 1024 * 1024));
    await untilStaging(first.dataDir);
    expect(await first.kill("SIGKILL")).toMatchObject({ signal: "SIGKILL" });
    expect(await upload.status).toBeInstanceOf(Error);

    const second = await startServerProcess({ dataDir: first.dataDir });
    expect(await readdir(join(first.dataDir, "tmp"))).toEqual([]);
    const partial = await second.api(`/disk/${diskId}/artifact?file_path=/partial/partial.bin`);
    expect(partial.status).toBe(404);
    const list = (await (await second.api(`/disk/${diskId}/artifact/ls?path=/partial/`)).json()) as { data: { artifacts: unknown[] } };
    expect(list.data.artifacts).toEqual([]);
    const download = await second.api(`/disk/${diskId}/artifact/download?file_path=/safe/kept.bin`);
    expect(sha(new Uint8Array(await download.arrayBuffer()))).toBe(sha(kept));
    expect(await blobCount(first.dataDir)).toBe(1);
  });

  it("SIGTERM lets an upload in flight finish, then exits 0; the artifact is there after restart", async () => {
    const first = await startServerProcess();
    const diskId = await newDisk(first);
    const upload = openUpload(first, diskId, "late.bin");
    const body = randomBytes(1024 * 1024);
    upload.req.write(body.subarray(0, 512 * 1024));
    await untilStaging(first.dataDir);
    const exited = first.kill("SIGTERM");
    await first.stderr.waitFor(/SIGTERM: finishing requests in flight/);
    upload.req.write(body.subarray(512 * 1024));
    upload.finish();
    expect(await upload.status).toBe(201);
    expect(await exited).toMatchObject({ exitCode: 0 });

    const second = await startServerProcess({ dataDir: first.dataDir });
    const download = await second.api(`/disk/${diskId}/artifact/download?file_path=/partial/late.bin`);
    expect(sha(new Uint8Array(await download.arrayBuffer()))).toBe(sha(body));
  });

  it("two clients upserting one path at once end with one complete artifact", async () => {
    const server = await startServerProcess();
    const diskId = await newDisk(server);
    const contents = [randomBytes(4 * 1024 * 1024), randomBytes(4 * 1024 * 1024)];
    const results = await Promise.all(
      contents.map((content) => server.api(`/disk/${diskId}/artifact`, { method: "POST", body: uploadForm("same.bin", content, { file_path: "/race/" }) })),
    );
    expect(results.map((r) => r.status)).toEqual([201, 201]);
    const download = await server.api(`/disk/${diskId}/artifact/download?file_path=/race/same.bin`);
    const winner = sha(new Uint8Array(await download.arrayBuffer()));
    expect(contents.map(sha)).toContain(winner);
    const list = (await (await server.api(`/disk/${diskId}/artifact/ls?path=/race/`)).json()) as { data: { artifacts: unknown[] } };
    expect(list.data.artifacts).toHaveLength(1);
    expect(await blobCount(server.dataDir)).toBe(1);
  });
});
