// ESM bundles keep CommonJS modules working: require, __filename and __dirname as esbuild's
// CommonJS output has them, and an app's own `__dirname` untouched.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import type { NodeTarget } from "../../src/config/types.ts";
import type { SourceFile } from "../../src/engine/source-tree.ts";
import { bundleOutputFor } from "../../src/node/entry-module.ts";
import { bundle } from "../../src/node/esbuild-api.ts";
import { tempDir } from "../support/tmp.ts";

const run = promisify(execFile);

test("a CommonJS module bundled into ESM output reads __filename and require; the app's own __dirname stays", async (t) => {
  const dir = await tempDir(t, "tug-esm-bundle-");
  const files: Record<string, string> = {
    "package.json": '{ "name": "esm-app", "type": "module" }\n',
    "src/legacy.cjs":
      'const path = require("node:path");\nmodule.exports = () => [path.basename(__filename), path.basename(__dirname)].join(" ");\n',
    "src/main.js":
      'import legacy from "./legacy.cjs";\nconst __dirname = "the app\'s own";\nconsole.log(legacy(), "|", __dirname);\n',
  };
  for (const [p, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), text);
  }
  const target = {
    name: "app",
    context: dir,
    entry: "src/main.js",
    node: "20",
    where: "images.app",
  } as NodeTarget;
  const output = await bundleOutputFor(dir, target.entry);
  assert.equal(output.format, "esm");
  const keyed = Object.keys(files).map((path) => ({ path, type: "file" }) as SourceFile);
  const { code } = await bundle(target, [], output, keyed);
  // Where the image puts it: the entry's own path (here beside the sources, as an .mjs).
  const at = join(dir, "src", "bundle.mjs");
  await writeFile(at, code);
  const { stdout } = await run(process.execPath, [at]);
  assert.equal(stdout.trim(), "bundle.mjs src | the app's own");
});
