#!/usr/bin/env node
"use strict";
// CommonJS (see bin/package.json): the fastest start on Node 20. The CLI is dist/cli/main.cjs,
// compiled with a V8 code cache kept in ~/.cache/acontext (what Node 22 does itself with
// module.enableCompileCache): ~11 ms less for `sandbox exec`, ~5 ms for `--version`, measured.
// Anything unusual falls back to a plain require.
const path = require("node:path");
const file = path.join(__dirname, "..", "dist", "cli", "main.cjs");
let cli;
try {
  cli = loadWithCodeCache(file);
} catch {
  cli = require(file);
}
cli.main(process.argv);

function loadWithCodeCache(file) {
  const fs = require("node:fs");
  const os = require("node:os");
  const vm = require("node:vm");
  const Module = require("node:module");
  const source = fs.readFileSync(file, "utf8");
  const { size, mtimeMs } = fs.statSync(file);
  const dir = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "acontext");
  // V8 itself rejects a cache made for other source or flags; the name keeps versions apart.
  const name = `main-${process.version}-${size}-${Math.floor(mtimeMs)}.v8`;
  let cachedData;
  try {
    cachedData = fs.readFileSync(path.join(dir, name));
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  // server.cjs and scaffold.cjs require("./main.cjs"): they must get this very module.
  Module._cache[file] = mod;
  // Code compiled by vm cannot import() on Node 20; ESM-only dependencies load through here.
  globalThis.__acontextImport = (specifier) => import(specifier);
  script.runInThisContext().call(mod.exports, mod.exports, (id) => mod.require(id), mod, file, path.dirname(file));
  mod.loaded = true;
  if (!cachedData || script.cachedDataRejected) {
    // At exit, so the cache holds the functions this command compiled too.
    process.once("exit", () => {
      try {
        fs.mkdirSync(dir, { recursive: true });
        const temp = path.join(dir, `${name}.${process.pid}`);
        fs.writeFileSync(temp, script.createCachedData());
        fs.renameSync(temp, path.join(dir, name));
        for (const old of fs.readdirSync(dir))
          if (old.startsWith("main-") && old !== name && !old.includes(".v8.")) fs.rmSync(path.join(dir, old), { force: true });
      } catch {
        // No cache this time.
      }
    });
  }
  return mod.exports;
}
