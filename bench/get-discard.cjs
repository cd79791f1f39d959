// `node get-discard.cjs http|socket URL KEY`: GETs URL and throws the bytes away, through node:http
// or a bare socket reading into one reused buffer; exits 1 unless the whole body came. A child
// process of its own, as the CLI is when it downloads.
const [mode, url, key] = process.argv.slice(2);
const { hostname, port, pathname, search } = new URL(url);

if (mode === "http") {
  require("node:http")
    .request(url, { headers: { authorization: `Bearer ${key}` } }, (res) => {
      const expected = Number(res.headers["content-length"]);
      let received = 0;
      res.on("data", (chunk) => (received += chunk.length));
      res.on("end", () => (process.exitCode = res.statusCode === 200 && received === expected ? 0 : 1));
    })
    .end();
} else {
  let received = 0;
  const socket = require("node:net").connect(
    { host: hostname, port: Number(port), onread: { buffer: Buffer.allocUnsafe(1024 * 1024), callback: (n) => void (received += n) } },
    () => socket.write(`GET ${pathname}${search} HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${key}\r\nconnection: close\r\n\r\n`),
  );
  // Headers included: at least the body's bytes must have come.
  socket.once("close", () => (process.exitCode = received > Number(process.env.BODY_BYTES) ? 0 : 1));
}
