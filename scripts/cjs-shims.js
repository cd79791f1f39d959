// Injected into the CommonJS bundle by scripts/build.js: `import.meta.url` for code that finds
// files beside the package (templates/, package.json).
export const import_meta_url = require("node:url").pathToFileURL(__filename).href;
