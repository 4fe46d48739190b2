// Signed records travel in the record body, so every backend carries them as-is: a round trip
// through S3 (s3rver) and an OCI registry (docker-registry), and the OCI backend's size bound.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CacheStore } from "../../src/engine/cache-store.ts";
import { layerRecordChecks } from "../../src/engine/layer-action.ts";
import { RemoteSync } from "../../src/engine/remote-sync.ts";
import { hexOf, sha256 } from "../../src/oci/digest.ts";
import { RegistryClient } from "../../src/oci/registry/client.ts";
import { ociRemoteCache } from "../../src/remote/oci-cache.ts";
import { MAX_RECORD_BYTES, OversizedRecordError, type RemoteCache } from "../../src/remote/remote-cache.ts";
import { s3RemoteCache } from "../../src/remote/s3-cache.ts";
import { startRegistry } from "../support/registry.ts";
import { S3RVER_CREDENTIALS, startS3rver } from "../support/s3rver.ts";
import { tempDir } from "../support/tmp.ts";

const DIFF = `sha256:${"e".repeat(64)}` as const;

/** Writer with `writerKey`, then readers with the same key, another key, and none. */
async function roundTrip(t: Parameters<typeof tempDir>[0], open: () => Promise<RemoteCache>): Promise<void> {
  const sync = async (signingKey: string | undefined, warnings: string[]) => {
    const store = new CacheStore(await tempDir(t, "tug-store-"));
    store.remote = new RemoteSync(await open(), "readwrite", (m) => warnings.push(m), {
      signingKey,
      deadlineMs: 10_000,
    });
    return store;
  };
  const writer = await sync("team-key", []);
  await writer.putRecord("layer", "k", { diffId: DIFF });
  await writer.remote?.flush(10_000);

  const same: string[] = [];
  const reader = await sync("team-key", same);
  assert.deepEqual(await reader.getRecord("layer", "k", layerRecordChecks.isLayerRecord), { diffId: DIFF });
  assert.deepEqual(same, []);

  const other: string[] = [];
  const wrong = await sync("other-key", other);
  assert.equal(await wrong.getRecord("layer", "k", layerRecordChecks.isLayerRecord), undefined);
  assert.equal(other.length, 1);

  const none = await sync(undefined, []);
  assert.deepEqual(await none.getRecord("layer", "k", layerRecordChecks.isLayerRecord), { diffId: DIFF });
  for (const s of [reader, wrong, none]) await s.remote?.flush(10_000);
}

test("signed records round-trip through S3 (s3rver)", async (t) => {
  const server = await startS3rver(t, { buckets: ["tug-cache"] });
  await roundTrip(t, () =>
    s3RemoteCache("s3://tug-cache/team", { endpoint: server.url, credentials: S3RVER_CREDENTIALS, env: {} }),
  );
});

test("signed records round-trip through an OCI registry; a record layer over 4 MiB is refused before download", async (t) => {
  const registry = await startRegistry(t);
  const url = `oci://${registry.repo("team/tug-cache")}`;
  await roundTrip(t, async () => ociRemoteCache(url));

  const c = new RegistryClient({ credentials: async () => undefined });
  t.after(() => c.close());
  const rc = ociRemoteCache(url, { client: c });
  const key = hexOf(sha256("huge"));
  await rc.putRecord(key, Buffer.alloc(MAX_RECORD_BYTES + 1, "{"));
  const before = c.requestCounts().GET ?? 0;
  await assert.rejects(rc.getRecord(key), OversizedRecordError);
  assert.equal((c.requestCounts().GET ?? 0) - before, 1, "the manifest only, never the 4 MiB layer");
});
