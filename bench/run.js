// `npm run bench`: every benchmark, each against its baseline measured in the same run.
// BENCH_ONLY=startup, server, sandbox or docker runs one.
import { benchDocker } from "./docker.js";
import { benchSandbox } from "./sandbox.js";
import { benchServer } from "./server.js";
import { benchStartup } from "./startup.js";

const benches = { startup: benchStartup, server: benchServer, sandbox: benchSandbox, docker: benchDocker };
const only = process.env.BENCH_ONLY;
for (const [name, bench] of Object.entries(benches)) {
  if (only && only !== name) continue;
  console.log(`## ${name}\n\n${await bench()}\n`);
}
