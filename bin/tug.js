#!/usr/bin/env node
// CommonJS (bin/package.json): an ES module entry would start Node's ESM loader, ~4% of a
// `tug --version`, for nothing; the CLI itself is dist/cli.cjs (bin/load-cli.js).
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

// `tug build` / `tug invoke` first try a running `tug server` for the project (a warm process);
// everything else, and any failure to reach one, runs here as before.
async function main() {
  const args = process.argv.slice(2);
  const command = args.find((a, i) => !a.startsWith("-") && args[i - 1] !== "--http-timeout");
  const served =
    (command === "build" || command === "invoke") && (await require("./server-client.js").runOnServer(args));
  if (served) return;
  let build;
  try {
    build = readFileSync(join(__dirname, "..", "dist", "build-id"), "utf8").trim();
  } catch {}
  require("./load-cli.js").loadCli(args, build);
}

void main();
