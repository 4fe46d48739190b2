import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { CacheStore } from "../../src/engine/cache-store.ts";
import { Engine } from "../../src/engine/engine.ts";
import { actionKey, canonicalJson } from "../../src/engine/key.ts";
import { withKeyLock } from "../../src/engine/key-lock.ts";
import { cachedLayer, type LayerRecipe, recipeKey } from "../../src/engine/layer-action.ts";
import { scanTree } from "../../src/engine/source-tree.ts";
import { tempDir } from "../support/tmp.ts";

test("action keys ignore object key order and change with any input", () => {
  assert.equal(canonicalJson({ b: 1, a: { d: 2, c: 3 } }), '{"a":{"c":3,"d":2},"b":1}');
  const k = actionKey({ kind: "x", version: 1, inputs: { a: 1, b: [1, 2] } });
  assert.equal(k, actionKey({ kind: "x", version: 1, inputs: { b: [1, 2], a: 1 } }));
  assert.notEqual(k, actionKey({ kind: "x", version: 2, inputs: { a: 1, b: [1, 2] } }));
  assert.notEqual(k, actionKey({ kind: "x", version: 1, inputs: { a: 1, b: [2, 1] } }));
});

test("a corrupt or edited record is dropped and reads as a miss", async (t) => {
  const root = await tempDir(t, "tug-store-");
  const store = new CacheStore(root);
  await store.putRecord("layer", "k1", { diffId: "sha256:aa" });
  assert.deepEqual(await store.getRecord("layer", "k1"), { diffId: "sha256:aa" });
  const [file] = await findFiles(join(root, "ac"));
  await fs.writeFile(file!, (await fs.readFile(file!, "utf8")).replace("sha256:aa", "sha256:bb"));
  assert.equal(await store.getRecord("layer", "k1"), undefined);
  assert.equal(store.stats.dropped, 1);
  await assert.rejects(fs.access(file!), "the bad record is deleted");
  await store.putRecord("layer", "k2", { x: 1 });
  const [file2] = await findFiles(join(root, "ac"));
  await fs.writeFile(file2!, '{"v":1,"kind":"layer","val');
  assert.equal(await store.getRecord("layer", "k2"), undefined);
});

test("source trees hash the same whatever the mtimes and creation order", async (t) => {
  const a = await tempDir(t, "tug-tree-a-");
  const b = await tempDir(t, "tug-tree-b-");
  await fs.mkdir(join(a, "src"));
  await fs.writeFile(join(a, "src", "x.ts"), "x");
  await fs.writeFile(join(a, "z.txt"), "z");
  await fs.writeFile(join(b, "z.txt"), "z");
  await fs.mkdir(join(b, "src"));
  await fs.writeFile(join(b, "src", "x.ts"), "x");
  await fs.utimes(join(b, "z.txt"), 1000, 1000);
  await fs.chmod(join(b, "z.txt"), 0o600); // mode bits other than exec never matter
  const [ta, tb] = await Promise.all([scanTree(a), scanTree(b)]);
  assert.equal(ta.digest, tb.digest);
  await fs.chmod(join(b, "z.txt"), 0o700);
  assert.notEqual((await scanTree(b)).digest, ta.digest, "the executable bit is content");
});

test("a symlink leaving the tree is refused with a clear error", async (t) => {
  const dir = await tempDir(t, "tug-tree-");
  await fs.symlink("/etc/passwd", join(dir, "passwd"));
  await assert.rejects(
    scanTree(dir, { where: "images.site" }),
    /symlink passwd points outside the build context/,
  );
  await fs.rm(join(dir, "passwd"));
  await fs.writeFile(join(dir, "a"), "a");
  await fs.symlink("a", join(dir, "b"));
  const tree = await scanTree(dir);
  assert.deepEqual(
    tree.files.map((f) => [f.path, f.type, f.linkname]),
    [
      ["a", "file", undefined],
      ["b", "symlink", "a"],
    ],
  );
});

test("the stat cache answers for unchanged files and not for edited ones", async (t) => {
  const dir = await tempDir(t, "tug-stat-");
  const cacheDir = await tempDir(t, "tug-cache-");
  const file = join(dir, "f.txt");
  await fs.writeFile(file, "one");
  await fs.utimes(file, 1000, 1000); // old enough to be remembered (racy-git guard)
  const e1 = await Engine.open({ cacheDir, scope: dir });
  const first = await scanTree(dir, { statCache: e1.statCache });
  await e1.close();
  const e2 = await Engine.open({ cacheDir, scope: dir });
  const st = await fs.stat(file, { bigint: true });
  assert.equal(e2.statCache.lookup(file, st), first.files[0]!.digest);
  await fs.writeFile(file, "two");
  assert.equal(e2.statCache.lookup(file, await fs.stat(file, { bigint: true })), undefined);
  assert.notEqual((await scanTree(dir, { statCache: e2.statCache })).digest, first.digest);
});

test("a key lock held by a dead process is taken over", async (t) => {
  const root = await tempDir(t, "tug-lock-");
  await fs.mkdir(join(root, "locks"), { recursive: true });
  await fs.writeFile(join(root, "locks", "k.lock"), "999999999"); // no such pid
  assert.equal(await withKeyLock(root, "k", async () => 42), 42);
  // Two holders in one process run one after the other, never together.
  let inside = 0;
  let max = 0;
  const hold = () =>
    withKeyLock(root, "k", async () => {
      inside++;
      max = Math.max(max, inside);
      await new Promise((r) => setTimeout(r, 20));
      inside--;
    });
  await Promise.all([hold(), hold(), hold()]);
  assert.equal(max, 1);
});

test("a cached layer is answered from records without producing or reading anything", async (t) => {
  const cacheDir = await tempDir(t, "tug-cache-");
  const engine = await Engine.open({ cacheDir, scope: "test" });
  let produced = 0;
  const recipe: LayerRecipe = {
    target: "t",
    step: "s",
    kind: "test-layer",
    version: 1,
    params: { p: "v" },
    trees: {},
    produce: async () => {
      produced++;
      return { entries: [{ path: "hello.txt", type: "file", mode: 0o644, data: Buffer.from("hi\n") }] };
    },
  };
  const gz1 = { kind: "gzip", level: 1 } as const;
  const first = await cachedLayer(engine, recipe, gz1);
  const second = await cachedLayer(engine, recipe, gz1);
  assert.equal(produced, 1);
  assert.equal(first.cached, false);
  assert.equal(second.cached, true);
  assert.equal(await second.layer.digest(), await first.layer.digest());
  assert.equal(await second.layer.diffId(), await first.layer.diffId());
  // Another compression of a known diffID is derived from the stored blob, not re-produced.
  const plain = await cachedLayer(engine, recipe, { kind: "none" });
  assert.equal(produced, 1);
  assert.equal(await plain.layer.digest(), await first.layer.diffId());
  await engine.close();
});

async function findFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await findFiles(p)));
    else out.push(p);
  }
  return out;
}

test("SOURCE_DATE_EPOCH is part of every layer key (it changes the tar's bytes)", () => {
  const recipe: LayerRecipe = {
    target: "t",
    step: "s",
    kind: "k",
    version: 1,
    params: {},
    trees: {},
    produce: async () => ({ entries: [] }),
  };
  const saved = process.env.SOURCE_DATE_EPOCH;
  try {
    delete process.env.SOURCE_DATE_EPOCH;
    const a = recipeKey(recipe);
    process.env.SOURCE_DATE_EPOCH = "1700000000";
    assert.notEqual(recipeKey(recipe), a);
  } finally {
    if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = saved;
  }
});
