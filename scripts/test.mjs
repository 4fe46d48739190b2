// Runs every *.test.ts under test/ with node's test runner (Node 20 has no --test glob).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith(".test.ts") ? [join(dir, e.name)] : [],
  );
}

const only = process.argv.slice(2);
const files = (only.length ? only : find("test")).sort();
const r = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=300000", ...files],
  {
    stdio: "inherit",
  },
);
process.exit(r.status ?? 1);
