#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { loadCli } from "./load-cli.js";

// `tug build` / `tug invoke` first try a running `tug server` for the project (a warm process);
// everything else, and any failure to reach one, runs here as before.
const args = process.argv.slice(2);
const command = args.find((a, i) => !a.startsWith("-") && args[i - 1] !== "--http-timeout");
const served =
  (command === "build" || command === "invoke") &&
  (await (await import("./server-client.js")).runOnServer(args));
if (!served) {
  let build;
  try {
    build = readFileSync(new URL("../dist/build-id", import.meta.url), "utf8").trim();
  } catch {}
  loadCli(args, build);
}
