#!/usr/bin/env node
// Node ≥ 22.1 can keep V8's compiled code between runs; start-up is most of a no-op build.
import module from "node:module";

// `tug build` / `tug invoke` first try a running `tug server` for the project (a warm process);
// everything else, and any failure to reach one, runs here as before.
const args = process.argv.slice(2);
const command = args.find((a, i) => !a.startsWith("-") && args[i - 1] !== "--http-timeout");
const served =
  (command === "build" || command === "invoke") &&
  (await (await import("./server-client.js")).runOnServer(args));
if (!served) {
  module.enableCompileCache?.();
  await import("../dist/cli.js");
}
