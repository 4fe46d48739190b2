// Regenerates src/dev/supervisor-source.ts from src/dev/supervisor/main.go, so the esbuild
// bundle carries the supervisor's source and never has to find main.go on disk.
// Run after editing main.go: node scripts/embed-supervisor.mjs
import { readFileSync, writeFileSync } from "node:fs";

const root = new URL("../src/dev/", import.meta.url);
const source = readFileSync(new URL("supervisor/main.go", root), "utf8");
if (source.includes("`") || source.includes("${")) {
  throw new Error("main.go must not contain a backtick or ${: it is embedded in a String.raw template");
}
const out = [
  "// Generated from supervisor/main.go by scripts/embed-supervisor.mjs; do not edit.",
  "// biome-ignore format: the template holds Go source verbatim",
  `export const SUPERVISOR_SOURCE = String.raw\`${source}\`;`,
  "",
].join("\n");
writeFileSync(new URL("supervisor-source.ts", root), out);
