import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { bundleOutputFor } from "../../src/node/entry-module.ts";
import { productionPackages } from "../../src/node/lockfile.ts";
import { tempDir } from "../support/tmp.ts";

const lock = (packages: Record<string, unknown>) => JSON.stringify({ lockfileVersion: 3, packages });

test("production packages: dev ones left out, optional and nested kept, sorted", () => {
  const got = productionPackages(
    lock({
      "": { name: "app", dependencies: { express: "^4" } },
      "node_modules/express": { version: "4.21.2" },
      "node_modules/typescript": { version: "5.0.0", dev: true },
      "node_modules/fsevents": { version: "2.3.3", optional: true, os: ["darwin"] },
      "node_modules/express/node_modules/debug": { version: "2.6.9" },
      "node_modules/both": { version: "1.0.0", devOptional: true },
    }),
    "tug.yaml",
  );
  assert.deepEqual(got, [
    { path: "node_modules/both", version: "1.0.0", optional: false },
    { path: "node_modules/express", version: "4.21.2", optional: false },
    { path: "node_modules/express/node_modules/debug", version: "2.6.9", optional: false },
    { path: "node_modules/fsevents", version: "2.3.3", optional: true },
  ]);
});

test("hostile or old lockfiles: one clear error each", () => {
  assert.throws(() => productionPackages("{", "w"), /package-lock.json is not JSON/);
  assert.throws(
    () => productionPackages(JSON.stringify({ lockfileVersion: 1, dependencies: {} }), "w"),
    /no "packages" map \(lockfileVersion 1\)/,
  );
  assert.throws(() => productionPackages("null", "w"), /no "packages" map/);
  for (const path of [
    "node_modules/../../etc",
    "node_modules/a/../../x",
    "node_modules/",
    "node_modules/a\\..\\b",
  ]) {
    assert.throws(
      () => productionPackages(lock({ [path]: { version: "1.0.0" } }), "w"),
      /unsafe install path/,
      path,
    );
  }
  assert.throws(
    () => productionPackages(lock({ "node_modules/lib": { link: true, resolved: "packages/lib" } }), "w"),
    /is a link/,
  );
  // Workspace sources themselves are not installs.
  assert.deepEqual(productionPackages(lock({ "packages/lib": { version: "1.0.0" } }), "w"), []);
});

test("the bundle replaces the entry at its path, in the module format Node gives it", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "package.json"), JSON.stringify({ name: "x" }));
  await mkdir(join(dir, "esm"), { recursive: true });
  await writeFile(join(dir, "esm", "package.json"), JSON.stringify({ type: "module" }));
  await mkdir(join(dir, "broken"), { recursive: true });
  await writeFile(join(dir, "broken", "package.json"), "{");
  assert.deepEqual(await bundleOutputFor(dir, "src/server.js"), { path: "src/server.js", format: "cjs" });
  assert.deepEqual(await bundleOutputFor(dir, "src/server.ts"), { path: "src/server.js", format: "cjs" });
  assert.deepEqual(await bundleOutputFor(dir, "esm/src/main.ts"), { path: "esm/src/main.js", format: "esm" });
  assert.deepEqual(await bundleOutputFor(dir, "esm/main.cjs"), { path: "esm/main.cjs", format: "cjs" });
  assert.deepEqual(await bundleOutputFor(dir, "a.mts"), { path: "a.mjs", format: "esm" });
  assert.deepEqual(await bundleOutputFor(dir, "a.cts"), { path: "a.cjs", format: "cjs" });
  assert.deepEqual(await bundleOutputFor(dir, "ui/App.tsx"), { path: "ui/App.js", format: "cjs" });
  assert.deepEqual(await bundleOutputFor(dir, "broken/x.js"), { path: "broken/x.js", format: "cjs" });
});
