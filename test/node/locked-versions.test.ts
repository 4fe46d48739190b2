// The versions a bundled app's inlined packages are checked against (src/node/lockfile.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { lockedVersions } from "../../src/node/lockfile.ts";

test("locked versions by install path: lockfile v2/v3 packages, links and non-installs skipped", () => {
  const v3 = JSON.stringify({
    lockfileVersion: 3,
    packages: {
      "": { name: "app" },
      "node_modules/ms": { version: "2.1.3" },
      "node_modules/a/node_modules/@s/b": { version: "1.0.0", dev: true },
      "node_modules/@acme/shared": { resolved: "packages/shared", link: true },
      "packages/shared": { version: "0.1.0" },
    },
  });
  assert.deepEqual(
    [...(lockedVersions(v3) ?? [])],
    [
      ["node_modules/ms", "2.1.3"],
      ["node_modules/a/node_modules/@s/b", "1.0.0"],
    ],
  );
});

test("lockfile v1 (npm 6): nested dependencies at their install paths; not JSON is undefined", () => {
  const v1 = JSON.stringify({
    lockfileVersion: 1,
    dependencies: {
      a: { version: "1.0.0", dependencies: { ms: { version: "2.0.0" } } },
      ms: { version: "2.1.3" },
    },
  });
  assert.deepEqual([...(lockedVersions(v1) ?? [])].sort(), [
    ["node_modules/a", "1.0.0"],
    ["node_modules/a/node_modules/ms", "2.0.0"],
    ["node_modules/ms", "2.1.3"],
  ]);
  assert.equal(lockedVersions("# yarn lockfile v1\n"), undefined);
  assert.equal(lockedVersions("{}"), undefined);
});
