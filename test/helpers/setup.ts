// Keep the developer's machine out of the tests, and the tests out of the developer's machine.
// Run before each test file (vitest setupFiles), in the process that runs it.
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";

// npm's cache and user config stay the machine's: tests install real packages (the cloudflare
// template, `npm install -g .`), some offline, and an empty cache would fetch everything again
// while a missing ~/.npmrc would lose its settings (e.g. `nodedir` for native builds). Both are
// taken before HOME changes below and before the npm_* variables go (a process reused for a
// later file finds them set here, as they are set last).
const npmCache = process.env.npm_config_cache || join(homedir(), ".npm");
const npmUserConfig = process.env.npm_config_userconfig || join(homedir(), ".npmrc");

// The launching package manager, colours, CI flags and DEBUG all change what the CLI prints or
// picks; the developer's ACONTEXT_* settings (a base URL, an API key, a data dir, a port) would
// point the CLI at their own server. The tests' own ACONTEXT_TEST_* settings stay.
for (const key of Object.keys(process.env)) {
  const acontext = key.startsWith("ACONTEXT_") && !key.startsWith("ACONTEXT_TEST_");
  if (acontext || key.startsWith("npm_") || key === "CI" || key === "DEBUG" || key === "FORCE_COLOR" || key === "NO_COLOR") {
    delete process.env[key];
  }
}
process.env.npm_config_cache = npmCache;
process.env.npm_config_userconfig = npmUserConfig;

// A home of its own per test file: ~/.acontext (config, data, answers), the V8 code cache and
// fetched Node.js under XDG_CACHE_HOME, and anything else a tool keeps under HOME or XDG_*, start
// empty and are removed with it. Sandbox state (skeleton, uid claims, sandbox roots) likewise,
// not in the machine's /var/lib/acontext. The folders are named now and made before the file's
// first test: vitest runs no hook in a file none of whose tests run, and then nothing is made
// that nothing would remove.
const unique = `${process.pid}-${randomBytes(4).toString("hex")}`;
const home = join(tmpdir(), `acontext-test-home-${unique}`);
const sandboxDir = join(tmpdir(), `acontext-test-sandboxes-${unique}`);
const xdg = { XDG_CONFIG_HOME: ".config", XDG_CACHE_HOME: ".cache", XDG_DATA_HOME: ".local/share", XDG_STATE_HOME: ".local/state" };
process.env.HOME = home;
for (const [name, dir] of Object.entries(xdg)) process.env[name] = join(home, dir);
process.env.ACONTEXT_SANDBOX_DIR = sandboxDir;

beforeAll(() => {
  mkdirSync(home, { mode: 0o700 }); // not recursive: a folder already there is an error, never shared
  for (const dir of Object.values(xdg)) mkdirSync(join(home, dir), { recursive: true });
  mkdirSync(sandboxDir, { mode: 0o700 });
});
// After the file's tests (which kill their servers and sandboxes first).
afterAll(() => {
  rmSync(sandboxDir, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});
