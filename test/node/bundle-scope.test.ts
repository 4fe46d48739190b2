// What a node bundle reads outside its context, as recorded and re-checked (src/node/bundle-scope.ts).
import assert from "node:assert/strict";
import { mkdir, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type TestContext, test } from "node:test";
import { CacheStore } from "../../src/engine/cache-store.ts";
import { StatCache } from "../../src/engine/stat-cache.ts";
import {
  BUNDLE_SCOPE_KIND,
  loadScope,
  scopeOfBundle,
  scopeParam,
  scopeStillHolds,
} from "../../src/node/bundle-scope.ts";
import { tempDir } from "../support/tmp.ts";

async function repo(t: TestContext) {
  const root = await tempDir(t, "tug-scope-");
  const files: Record<string, string> = {
    "tug.yaml": "images: {}\n",
    "tsconfig.base.json": '{ "compilerOptions": { "jsx": "react" } }',
    "web/tsconfig.json": '{ "extends": "../tsconfig.base.json" }',
    "web/src/main.ts": 'import { g } from "../../shared/g";\nconsole.log(g());\n',
    "shared/g.ts": 'export const g = () => "v1";\n',
    // Hoisted above the context, as npm workspaces install dependencies.
    "node_modules/left-pad/package.json": '{ "name": "left-pad", "version": "1.0.0" }',
    "node_modules/left-pad/index.js": "module.exports = () => 1;\n",
  };
  for (const [p, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, p)), { recursive: true });
    await writeFile(join(root, p), text);
  }
  // Old mtimes: a scope is not recorded while its files are fresher than the bundle.
  for (const p of Object.keys(files)) await utimes(join(root, p), 1_000_000, 1_000_000);
  const where = { context: join(root, "web"), roots: [root] };
  const stat = await StatCache.open(await tempDir(t, "tug-scope-cache-"));
  return { root, where, stat };
}

const INPUTS = ["src/main.ts", "../shared/g.ts", "../node_modules/left-pad/index.js"];

test("a bundle's scope: outside files by content, config files up to the project, tsconfigs merged", async (t) => {
  const { where } = await repo(t);
  const { scope, recordable } = await scopeOfBundle(INPUTS, where, Date.now());
  assert.equal(recordable, true);
  // No lockfile in the context stands for hoisted packages: their files and package.json count.
  assert.deepEqual(Object.keys(scope.files), [
    "../node_modules/left-pad/index.js",
    "../node_modules/left-pad/package.json",
    "../shared/g.ts",
  ]);
  assert.deepEqual(scope.absent.sort(), [
    "../jsconfig.json",
    "../package.json",
    "../shared/jsconfig.json",
    "../shared/package.json",
  ]);
  assert.deepEqual(Object.keys(scope.dirs), ["../shared"]);
  assert.deepEqual(Object.keys(scope.tsconfigs), [".", "../shared"]);
});

test("the scope holds until an outside file, a config, a directory or an extended tsconfig changes", async (t) => {
  const { root, where, stat } = await repo(t);
  const { scope } = await scopeOfBundle(INPUTS, where, Date.now());
  const held = await scopeStillHolds(scope, where, stat);
  assert.deepEqual(
    held?.map((f) => f.path),
    ["../node_modules/left-pad/index.js", "../node_modules/left-pad/package.json", "../shared/g.ts"],
  );
  await writeFile(
    join(root, "node_modules/left-pad/package.json"),
    '{ "name": "left-pad", "version": "1.0.1" }',
  );
  assert.equal(await scopeStillHolds(scope, where, stat), undefined, "a hoisted package's new version");

  const bumped = (await scopeOfBundle(INPUTS, where, Date.now() + 60_000)).scope;
  await writeFile(join(root, "shared/g.ts"), 'export const g = () => "v2";\n');
  assert.equal(await scopeStillHolds(bumped, where, stat), undefined, "an outside file's edit");
  const again = (await scopeOfBundle(INPUTS, where, Date.now() + 60_000)).scope;
  assert.ok(await scopeStillHolds(again, where, stat));

  await writeFile(join(root, "package.json"), '{ "type": "module" }');
  assert.equal(await scopeStillHolds(again, where, stat), undefined, "a package.json above the context");
  const withPkg = (await scopeOfBundle(INPUTS, where, Date.now() + 60_000)).scope;

  await writeFile(join(root, "shared/g.tsx"), "export const g = () => 1;\n");
  assert.equal(await scopeStillHolds(withPkg, where, stat), undefined, "a new file beside an input");
  const withTsx = (await scopeOfBundle(INPUTS, where, Date.now() + 60_000)).scope;

  await writeFile(join(root, "tsconfig.base.json"), '{ "compilerOptions": { "jsx": "preserve" } }');
  assert.equal(await scopeStillHolds(withTsx, where, stat), undefined, "the tsconfig it extends");
  const changed = (await scopeOfBundle(INPUTS, where, Date.now() + 60_000)).scope;
  assert.notEqual(scopeParam(changed), scopeParam(withTsx));
});

test("a scope is not recorded when a file it names was modified as the bundle ran", async (t) => {
  const { root, where } = await repo(t);
  await writeFile(join(root, "shared/g.ts"), 'export const g = () => "new";\n');
  const { recordable } = await scopeOfBundle(INPUTS, where, Date.now());
  assert.equal(recordable, false);
});

test("recorded scopes are hostile input: paths outside the project, absolute or odd are refused", async (t) => {
  const { where } = await repo(t);
  const store = new CacheStore(await tempDir(t, "tug-scope-store-"));
  const { scope } = await scopeOfBundle(INPUTS, where, Date.now());
  await store.putRecord(BUNDLE_SCOPE_KIND, "good", scope);
  assert.deepEqual(await loadScope(store, "good", where), scope);
  const hex = "a".repeat(64);
  const bad: Record<string, unknown> = {
    escapes: { ...scope, files: { "../../../etc/passwd": hex } },
    absolute: { ...scope, files: { "/etc/passwd": hex } },
    unnormalised: { ...scope, files: { "../shared/../shared/g.ts": hex } },
    "not hex": { ...scope, files: { "../shared/g.ts": "zz" } },
    "absent not a list": { ...scope, absent: "../package.json" },
    "nul byte": { ...scope, dirs: { "../sha\0red": hex } },
  };
  for (const [name, value] of Object.entries(bad)) {
    await store.putRecord(BUNDLE_SCOPE_KIND, name, value);
    assert.equal(await loadScope(store, name, where), undefined, name);
  }
});
