// Bundles the CLI with esbuild into CommonJS files in dist/cli/:
//   main.cjs     the CLI, the API client and the copy/transfer code: all most commands load;
//   server.cjs   the embedded server and local sandboxes (server start|stop|status, auto-start);
//   scaffold.cjs `sandbox start`;
//   mcp.cjs      `acontext mcp` (the MCP SDK itself stays external, required by mcp.cjs only);
//   grep-worker.cjs the server's grep thread (src/server/grep.ts starts it from this file).
// Why CommonJS: on Node 20 an ESM entry costs ~10 ms more start-up than a CommonJS one
// (measured: `acontext --help` +34 ms vs +22 ms over bare node); bin/ holds a package.json
// that makes the shim CommonJS too. Why three files: V8 parses all of a file it loads, and the
// server and scaffold code is 40% of the CLI that most commands never run.
// Runtime dependencies (package.json "dependencies") are ESM-only and stay external: the
// commands load them with import() when they run.
// The error classes must be one set for `instanceof` in the error boundary: server.cjs and
// scaffold.cjs take them from main.cjs (loaded first, so require() returns it from the cache).
// mcp.cjs is handed main's API client and tells its errors apart by name (src/mcp/errors.ts).
// dist/cli/ sits two levels below the package root, like src/*/, so the code's
// `new URL("../../…", import.meta.url)` paths work both from source and from the bundle.
import { readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { build } from "esbuild";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const root = new URL("..", import.meta.url).pathname;
const source = (file) => resolve(root, "src", file);

/** Lazily imported modules that live in their own bundle. */
const LAZY = {
  [source("cli/server-control.ts")]: "./server.cjs",
  [source("cli/start-project.ts")]: "./scaffold.cjs",
  [source("mcp/server.ts")]: "./mcp.cjs",
};
const ERRORS = source("shared/errors.ts");

/**
 * Points imports of `targets` (absolute .ts paths) at other bundles, through a stub module that
 * require()s the bundle: a plain external import() would go through the slower ESM loader.
 */
function redirect(targets) {
  return {
    name: "redirect",
    setup(builder) {
      builder.onResolve({ filter: /^\./ }, (args) => {
        if (args.namespace === "bundle") return { path: args.path, external: true };
        const target = targets[resolve(args.resolveDir, args.path).replace(/\.js$/, ".ts")];
        return target ? { path: target, namespace: "bundle" } : undefined;
      });
      builder.onLoad({ filter: /.*/, namespace: "bundle" }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(args.path)});`,
        loader: "js",
      }));
    },
  };
}

/**
 * commander requires node:child_process at the top, for executable subcommands we never use;
 * loading it costs ~4 ms of every start. It loads on first use instead.
 */
const lazyChildProcess = {
  name: "lazy-child-process",
  setup(builder) {
    builder.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
      const eager = "const childProcess = require('node:child_process');";
      const text = readFileSync(args.path, "utf8");
      if (!text.includes(eager)) throw new Error(`${args.path}: "${eager}" not found; update the lazy-child-process plugin`);
      return { contents: text.replace(eager, "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };"), loader: "js" };
    });
  },
};

const common = {
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20.12",
  external: Object.keys(pkg.dependencies ?? {}),
  inject: ["scripts/cjs-shims.js"],
  define: { "import.meta.url": "import_meta_url" },
  // The sandbox helpers' programs (perl, sh) and the docker backend's Dockerfile are files of
  // their own, bundled as text.
  loader: { ".pl": "text", ".sh": "text", ".Dockerfile": "text" },
  logLevel: "warning",
};

rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
await build({ ...common, entryPoints: ["src/cli/main.ts"], outfile: "dist/cli/main.cjs", plugins: [redirect(LAZY), lazyChildProcess] });
for (const [entry, out] of Object.entries(LAZY)) {
  await build({ ...common, entryPoints: [entry], outfile: resolve(root, "dist/cli", out), plugins: [redirect({ [ERRORS]: "./main.cjs" })] });
}
await build({ ...common, entryPoints: [source("server/grep-worker.ts")], outfile: resolve(root, "dist/cli/grep-worker.cjs") });
