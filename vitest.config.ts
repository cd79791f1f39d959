import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // e2e tests spawn the built CLI and real servers; this machine has 2 busy cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    setupFiles: ["test/helpers/setup.ts"],
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
  },
});
