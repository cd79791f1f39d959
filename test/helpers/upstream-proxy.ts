// An upstream-shaped Acontext API for tests: a proxy in front of the real embedded server that
// takes away our extensions, as the hosted API lacks them (reference/acontext-api.md §8): no
// extensions header, exec gets `{command}` only and answers buffered JSON, raw-stdin exec is
// refused, and there is no GET/PATCH /sandbox/{id}. Everything else passes through to the real server untouched.
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach } from "vitest";

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

export async function upstreamProxy(target: string): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    requests.push(`${req.method} ${path}`);
    if (/^\/api\/v1\/sandbox\/[^/]+$/.test(path) && (req.method === "GET" || req.method === "PATCH")) return refuse(res, 404, "not found");
    if (/^\/api\/v1\/sandbox\/[^/]+\/exec$/.test(path)) {
      if (!String(req.headers["content-type"]).includes("application/json")) return refuse(res, 400, "invalid request");
      const body = JSON.parse((await readAll(req)).toString()) as { command?: unknown };
      return forward(target, req, res, { accept: "application/json", "content-type": "application/json" }, JSON.stringify({ command: body.command }));
    }
    forward(target, req, res, req.headers);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  open.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

function forward(target: string, req: IncomingMessage, res: ServerResponse, headers: IncomingMessage["headers"], body?: string): void {
  const upstream = request(new URL(req.url ?? "/", target), {
    method: req.method,
    headers: {
      ...headers,
      authorization: req.headers.authorization,
      host: new URL(target).host,
      ...(body ? { "content-length": Buffer.byteLength(body) } : {}),
    },
  });
  upstream.on("response", (answer) => {
    delete answer.headers["x-acontext-extensions"]; // upstream has none of ours
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on("error", () => res.destroy());
  // A client that goes away mid-request takes the forwarded request with it, as it would upstream.
  res.on("close", () => {
    if (!res.writableFinished) upstream.destroy();
  });
  if (body !== undefined) upstream.end(body);
  else req.pipe(upstream);
}

function refuse(res: ServerResponse, status: number, msg: string): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ code: status, msg }));
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
