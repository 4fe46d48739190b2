// Rule 1 of issue 9 for lambda records: what comes back from the cache is checked before use;
// a corrupt record (a digest that is not one, a relative path) is a miss, never a path.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { CacheStore } from "../../src/engine/cache-store.ts";
import { isOutputRecord, type OutputRecord, readOutputRecord } from "../../src/lambda/output-record.ts";
import {
  cachedWheelTable,
  decodeRows,
  encodeRows,
  wheelVerifications,
} from "../../src/python/wheel-table.ts";
import { pythonZip } from "../support/hostile-wheels.ts";
import { tempDir } from "../support/tmp.ts";

const HEX = "a".repeat(64);

const good: OutputRecord = {
  files: { "/p/app.py": HEX },
  probes: { "/p/helpers.py": "none", "/p/pkg/*.py": "file" },
  outputs: { "/p/.tug/out/lambdas/fn.zip": { size: 10, mtimeNs: "1", ctimeNs: "2", ino: "3" } },
  digest: `sha256:${HEX}`,
  bytes: 10,
  unpackedBytes: 20,
  distributions: [{ name: "evil", version: "1.0", wheel: "evil-1.0-py3-none-any.whl", sha256: HEX }],
};

test("an output record with every digest and path well formed is accepted", () => {
  assert.ok(isOutputRecord(good));
  assert.ok(isOutputRecord({ ...good, warnings: ["w"], builtBecause: "x changed" }));
});

const corrupt: Array<[string, unknown]> = [
  ["an input digest that is a path", { ...good, files: { "/p/app.py": "../../../etc/passwd" } }],
  ["an input digest in upper case", { ...good, files: { "/p/app.py": HEX.toUpperCase() } }],
  ["a relative input path", { ...good, files: { "app.py": HEX } }],
  ["a zip digest that is not sha256", { ...good, digest: `sha256:${HEX.slice(1)}/` }],
  ["an unknown probe kind", { ...good, probes: { "/p/x": "symlink" } }],
  ["a negative size", { ...good, bytes: -1 }],
  ["a distribution that is not one", { ...good, distributions: [{ name: 1 }] }],
  [
    "a distribution without its wheel's sha256 (a record from before SBOMs)",
    { ...good, distributions: [{ name: "evil", version: "1.0", wheel: "evil-1.0-py3-none-any.whl" }] },
  ],
  ["no files at all", { ...good, files: undefined }],
  ["a string", "sha256:abc"],
];

for (const [what, value] of corrupt) {
  test(`an output record with ${what} is a miss`, async (t) => {
    assert.equal(isOutputRecord(value), false);
    const store = new CacheStore(await tempDir(t));
    await store.putRecord("lambda-out", "k", value);
    assert.equal(await readOutputRecord(store, "k"), undefined);
  });
}

// Node lambdas keep the same record (issue 12): npm packages carry no wheel sha256, and the
// directories whose listing decided the bundle are kept by digest too.
const node: OutputRecord = {
  files: { "/p/src/api.ts": HEX },
  probes: { "/p/src/tsconfig.json": "none" },
  dirs: { "/p/src": HEX, "/p/node_modules": HEX },
  ecosystem: "npm",
  outputs: { "/p/.tug/out/lambdas/api.zip": { size: 10, mtimeNs: "1", ctimeNs: "2", ino: "3" } },
  digest: `sha256:${HEX}`,
  bytes: 10,
  unpackedBytes: 20,
  distributions: [{ name: "sharp", version: "0.33.0", wheel: "" }],
};

test("a node lambda's output record is accepted; a bad listing digest or ecosystem is a miss", async (t) => {
  assert.ok(isOutputRecord(node));
  for (const bad of [
    { ...node, dirs: { "/p/src": "../../x" } },
    { ...node, dirs: { src: HEX } },
    { ...node, ecosystem: "pypi" },
    { ...node, ecosystem: undefined },
  ]) {
    assert.equal(isOutputRecord(bad), false, JSON.stringify(bad));
    const store = new CacheStore(await tempDir(t));
    await store.putRecord("lambda-out", "k", bad);
    assert.equal(await readOutputRecord(store, "k"), undefined);
  }
});

test("a wheel table record that is not numbers where numbers belong is a miss", () => {
  const rows = [
    {
      name: "evil/__init__.py",
      mode: 0o644,
      method: 8 as const,
      crc32: 1,
      compressedSize: 2,
      uncompressedSize: 3,
      dataOffset: 40,
    },
  ];
  const text = encodeRows(rows) as string;
  assert.deepEqual(decodeRows(text), rows);
  for (const bad of [
    text.replace("\t40", "\t-40"),
    text.replace("\t40", "\t4e1"),
    text.replace("\t40", "\t0x28"),
    text.replace("\t1\t", "\t99999999999\t"),
    text.replace("\t8\t", "\t12\t"),
    `\t${text.slice(text.indexOf("\t") + 1)}`,
  ]) {
    assert.equal(decodeRows(bad), undefined, bad);
  }
});

test("a wheel is verified once; its table record is the cached verdict", async (t) => {
  const dir = await tempDir(t);
  const wheel = join(dir, "evil-1.0-py3-none-any.whl");
  await pythonZip(wheel, { "evil/__init__.py": "X = 1\n", "evil-1.0.dist-info/METADATA": "Name: evil\n" });
  const store = new CacheStore(join(dir, "cache"));
  const sha = "b".repeat(64);
  const before = wheelVerifications.count;
  const rows = await cachedWheelTable(store, sha, wheel, "evil-1.0-py3-none-any.whl");
  assert.equal(wheelVerifications.count, before + 1);
  assert.deepEqual(
    rows.map((r) => r.name),
    ["evil/__init__.py", "evil-1.0.dist-info/METADATA"],
  );
  // Asked again (even with the wheel gone), the verdict stands: the wheel is not read again.
  assert.deepEqual(await cachedWheelTable(store, sha, join(dir, "gone.whl")), rows);
  assert.equal(wheelVerifications.count, before + 1);
});
