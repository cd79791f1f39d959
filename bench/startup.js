// CLI start-up against bare Node, measured in the same run: each round runs every command once,
// in rotating order, so machine noise hits all of them alike. Prints a Markdown table.
// NODE_EXTRA_CA_CERTS is removed for every command: on Node 20 it adds ~45 ms to each start.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../bin/acontext.js", import.meta.url));
const rounds = Number(process.env.BENCH_ROUNDS ?? 40);
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;

const commands = [
  { name: "node -e 0 (baseline)", args: ["-e", "0"] },
  { name: "acontext --version", args: [cli, "--version"] },
  { name: "acontext --help", args: [cli, "--help"] },
  { name: "acontext sandbox start --help", args: [cli, "sandbox", "start", "--help"] },
];

function once(args) {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { env, stdio: ["ignore", "ignore", "inherit"] });
  if (result.status !== 0) throw new Error(`${args.join(" ")} exited with ${result.status}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function benchStartup() {
  const samples = commands.map(() => []);
  for (let warm = 0; warm < 3; warm++) for (const c of commands) once(c.args);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < commands.length; k++) {
      const i = (k + round) % commands.length;
      samples[i].push(once(commands[i].args));
    }
  }
  const base = stats(samples[0]);
  const lines = [
    `Start-up, ${rounds} interleaved runs each, Node ${process.version}, NODE_EXTRA_CA_CERTS unset`,
    "",
    "| command | mean ms | median ms | p90 ms | vs `node -e 0` | Δ median |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const [i, c] of commands.entries()) {
    const s = stats(samples[i]);
    const delta = i === 0 ? "—" : `+${(s.median - base.median).toFixed(1)} ms`;
    lines.push(`| ${c.name} | ${s.mean.toFixed(1)} | ${s.median.toFixed(1)} | ${s.p90.toFixed(1)} | ${(s.median / base.median).toFixed(2)}× | ${delta} |`);
  }
  return lines.join("\n");
}

function stats(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean, median: sorted[Math.floor(sorted.length / 2)], p90: sorted[Math.floor(sorted.length * 0.9)] };
}
