// Keep the developer's environment out of the tests: the launching package manager, colours,
// CI flags and DEBUG all change what the CLI prints or picks.
for (const key of Object.keys(process.env)) {
  if (key.startsWith("npm_") || key === "CI" || key === "DEBUG" || key === "FORCE_COLOR" || key === "NO_COLOR") {
    delete process.env[key];
  }
}

// Sandbox state (skeleton, uid claims, sandbox roots) in a temp dir per test file, not the
// machine's /var/lib/acontext; removed after the file's tests (which kill their servers first).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

const sandboxDir = mkdtempSync(join(tmpdir(), "acontext-test-sandboxes-"));
process.env.ACONTEXT_SANDBOX_DIR = sandboxDir;
afterAll(() => rmSync(sandboxDir, { recursive: true, force: true }));
