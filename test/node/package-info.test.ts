// The packages a bundle inlined: each input under node_modules belongs to the nearest package.json
// with a name and version up to its package's root (a nested `{"type":"module"}` marker is not a
// package); the app's own files and package.json are never listed.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { bundledPackages } from "../../src/node/package-info.ts";
import { tempDir } from "../support/tmp.ts";

test("bundled packages from esbuild's inputs: nearest named package.json, nested installs, no app", async (t) => {
  const dir = await tempDir(t, "tug-bundled-");
  const files: Record<string, string> = {
    "package.json": JSON.stringify({ name: "app", version: "1.0.0", license: "MIT" }),
    "src/index.js": "",
    "node_modules/a/package.json": JSON.stringify({ name: "a", version: "1.2.3", license: "ISC" }),
    "node_modules/a/dist/esm/package.json": JSON.stringify({ type: "module" }),
    "node_modules/a/dist/esm/index.js": "",
    "node_modules/a/node_modules/@s/b/package.json": JSON.stringify({ name: "@s/b", version: "2.0.0" }),
    "node_modules/a/node_modules/@s/b/lib/x.js": "",
    "node_modules/@s/b/package.json": JSON.stringify({ name: "@s/b", version: "3.0.0", license: "Nope 1" }),
    "node_modules/@s/b/index.js": "",
    "node_modules/@s/b/other.js": "",
  };
  for (const [p, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), text);
  }
  const inputs = Object.keys(files)
    .filter((p) => p.endsWith(".js"))
    .map((p) => join(dir, p));
  assert.deepEqual(await bundledPackages(inputs), [
    { ecosystem: "npm", name: "@s/b", version: "2.0.0" },
    { ecosystem: "npm", name: "@s/b", version: "3.0.0" },
    { ecosystem: "npm", name: "a", version: "1.2.3", license: "ISC" },
  ]);
});
