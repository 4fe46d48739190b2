import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cacheStats, parseSize, pruneCache, verifyCache } from "../../src/engine/cache-admin.ts";
import { CacheStore } from "../../src/engine/cache-store.ts";
import { sha256 } from "../../src/oci/digest.ts";
import { tempDir } from "../support/tmp.ts";

async function putBlob(store: CacheStore, data: string, ageMs: number): Promise<string> {
  const digest = sha256(data);
  const tmp = await store.tempPath();
  await fs.writeFile(tmp, data);
  const path = await store.ingestBlob(tmp, digest);
  const t = new Date(Date.now() - ageMs);
  await fs.utimes(path, t, t);
  return digest;
}

test("prune deletes least recently used blobs down to the size, never recently used ones", async (t) => {
  const store = new CacheStore(await tempDir(t, "tug-cache-"));
  const hour = 3600_000;
  const oldest = await putBlob(store, "a".repeat(1000), 3 * hour);
  const older = await putBlob(store, "b".repeat(1000), 2 * hour);
  const recent = await putBlob(store, "c".repeat(1000), 1000); // in use by a running build
  const r = await pruneCache(store, 1500);
  assert.equal(r.deleted, 2);
  assert.equal(await store.hasBlob(oldest as `sha256:${string}`), false);
  assert.equal(await store.hasBlob(older as `sha256:${string}`), false);
  assert.equal(await store.hasBlob(recent as `sha256:${string}`), true);
  const again = await pruneCache(store, 10);
  assert.equal(again.deleted, 0, "the recently used blob stays even over the limit");
});

test("verify drops blobs that do not match their names and broken records; stats count what is there", async (t) => {
  const store = new CacheStore(await tempDir(t, "tug-cache-"));
  const good = await putBlob(store, "good", 0);
  const bad = await putBlob(store, "bad", 0);
  await fs.writeFile(store.blobPath(bad as `sha256:${string}`), "tampered");
  await store.putRecord("layer", "k1", { diffId: good });
  await store.putRecord("layer", "k2", { diffId: good });
  const ac = join(store.root, "ac", "layer");
  const [shard] = await fs.readdir(ac);
  const [file] = await fs.readdir(join(ac, shard!));
  await fs.writeFile(join(ac, shard!, file!), "{ not json");
  const before = await cacheStats(store);
  assert.equal(before.blobs.count, 2);
  assert.equal(before.records.layer, 2);
  const r = await verifyCache(store);
  assert.equal(r.dropped.length, 2, r.dropped.join("\n"));
  const after = await cacheStats(store);
  assert.equal(after.blobs.count, 1);
  assert.equal(after.records.layer, 1);
});

test("sizes parse like 5G, 500M, 1024K and plain bytes", () => {
  assert.equal(parseSize("5G"), 5 * 1024 ** 3);
  assert.equal(parseSize("500M"), 500 * 1024 ** 2);
  assert.equal(parseSize("1.5KiB"), 1536);
  assert.equal(parseSize("42"), 42);
  assert.equal(parseSize("lots"), undefined);
});
