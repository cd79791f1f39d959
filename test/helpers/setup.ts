// Keep the developer's environment out of the tests: the launching package manager, colours,
// CI flags and DEBUG all change what the CLI prints or picks.
for (const key of Object.keys(process.env)) {
  if (key.startsWith("npm_") || key === "CI" || key === "DEBUG" || key === "FORCE_COLOR" || key === "NO_COLOR") {
    delete process.env[key];
  }
}
