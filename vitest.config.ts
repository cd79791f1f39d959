import { defineConfig } from "vitest/config";

export default defineConfig({
  // The sandbox helpers' perl programs are imported as text, as the build's esbuild text loader does.
  plugins: [
    {
      name: "programs-as-text",
      transform: (code, id) => (/\.(pl|sh|Dockerfile)$/.test(id) ? { code: `export default ${JSON.stringify(code)};`, map: null } : undefined),
    },
  ],
  test: {
    include: ["test/**/*.test.ts"],
    // e2e tests spawn the built CLI and real servers; this machine has 2 busy cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    setupFiles: ["test/helpers/setup.ts"],
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
  },
});
