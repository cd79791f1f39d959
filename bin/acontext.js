#!/usr/bin/env node
"use strict";
// CommonJS (see bin/package.json): the fastest start on Node 20. The CLI is dist/cli/main.cjs.
require("../dist/cli/main.cjs").main(process.argv);
