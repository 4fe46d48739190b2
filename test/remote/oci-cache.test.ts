import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { type Digest, hexOf, sha256 } from "../../src/oci/digest.ts";
import { parseReference } from "../../src/oci/reference.ts";
import { RegistryClient, type RegistryClientOptions } from "../../src/oci/registry/client.ts";
import { pushArtifact } from "../../src/oci/registry/push.ts";
import {
  ACTION_RECORD_ARTIFACT_TYPE,
  ACTION_RECORD_MEDIA_TYPE,
  EMPTY_DIGEST,
  EMPTY_MEDIA_TYPE,
  ociRemoteCache,
  parseOciCacheUrl,
} from "../../src/remote/oci-cache.ts";
import type { RemoteCache } from "../../src/remote/remote-cache.ts";
import { layerOf, memoryImage } from "../support/memory-image.ts";
import { startRegistry } from "../support/registry.ts";
import { type RawManifest, skopeoInspectRaw } from "../support/tools.ts";

type Cleanup = { after: (fn: () => Promise<void>) => void };

function client(t: Cleanup, opts: RegistryClientOptions = {}): RegistryClient {
  const c = new RegistryClient({ credentials: async () => undefined, ...opts });
  t.after(() => c.close());
  return c;
}

function cache(t: Cleanup, url: string, c?: RegistryClient): RemoteCache {
  const rc = ociRemoteCache(url, c ? { client: c } : {});
  t.after(() => rc.close());
  return rc;
}

async function bytesOf(stream: Readable | undefined): Promise<Buffer | undefined> {
  if (!stream) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const key = (s: string) => hexOf(sha256(s));

test("parses oci:// URLs: explicit host, no Docker Hub guessing, no tags", () => {
  assert.deepEqual(parseOciCacheUrl("oci://127.0.0.1:5000/team/tug-cache"), {
    registry: "127.0.0.1:5000",
    repository: "team/tug-cache",
  });
  assert.deepEqual(parseOciCacheUrl("oci://registry/cache/"), { registry: "registry", repository: "cache" });
  assert.deepEqual(parseOciCacheUrl("oci://ghcr.io/acme/cache"), {
    registry: "ghcr.io",
    repository: "acme/cache",
  });
  for (const bad of [
    "https://ghcr.io/acme/cache",
    "oci://ghcr.io",
    "oci://ghcr.io/",
    "oci://ghcr.io/acme/cache:v1",
    "oci://user:pw@ghcr.io/acme/cache",
    "oci://ghcr.io/Acme/cache",
    "oci://bad_host/cache",
  ]) {
    assert.throws(() => parseOciCacheUrl(bad), /invalid OCI remote cache/, bad);
  }
  const rc = ociRemoteCache("oci://127.0.0.1:5000/team/tug-cache");
  assert.equal(rc.name, "oci://127.0.0.1:5000/team/tug-cache");
  return rc.close();
});

test("hasBlobs keeps at most 8 HEADs in flight", async (t) => {
  let active = 0;
  let peak = 0;
  class SlowHeads extends RegistryClient {
    override async headBlob(_repo: unknown, digest: Digest): Promise<number | undefined> {
      active++;
      peak = Math.max(peak, active);
      await new Promise((resolve) => setTimeout(resolve, 5));
      active--;
      return digest.endsWith("0") ? 1 : undefined;
    }
    override async prepare(): Promise<void> {}
  }
  const c = new SlowHeads({ credentials: async () => undefined });
  t.after(() => c.close());
  const rc = cache(t, "oci://127.0.0.1:1/team/tug-cache", c);
  const digests = Array.from({ length: 40 }, (_, i) => sha256(`d${i}`));
  const found = await rc.hasBlobs(digests);
  assert.deepEqual(found, new Set(digests.filter((d) => d.endsWith("0"))));
  assert.equal(peak, 8);
});

test("blobs round-trip; missing ones are undefined; hasBlobs HEADs each digest once", async (t) => {
  const registry = await startRegistry(t);
  const c = client(t);
  const rc = cache(t, `oci://${registry.repo("team/tug-cache")}`, c);
  const a = Buffer.from("blob a\n");
  const b = Buffer.alloc(100_000, 7);
  const missing = sha256("never stored");
  await rc.putBlob(sha256(a), a.length, async () => Readable.from([a]));
  await rc.putBlob(sha256(b), b.length, async () => Readable.from([b]));

  assert.deepEqual(await bytesOf(await rc.getBlob(sha256(a))), a);
  assert.deepEqual(await bytesOf(await rc.getBlob(sha256(b))), b);
  assert.equal(await rc.getBlob(missing), undefined);

  c.resetCounts();
  const digests: Digest[] = [sha256(a), missing, sha256(b), sha256(a)];
  assert.deepEqual(await rc.hasBlobs(digests), new Set([sha256(a), sha256(b)]));
  assert.equal(c.requestCounts().HEAD, 3, "one HEAD per distinct digest");
  assert.deepEqual(await rc.hasBlobs([]), new Set());
});

test("putBlob never opens a blob the registry already has", async (t) => {
  const registry = await startRegistry(t);
  const c = client(t);
  const rc = cache(t, `oci://${registry.repo("team/tug-cache")}`, c);
  const body = Buffer.from("shared layer bytes");
  let opened = 0;
  const open = async () => {
    opened++;
    return Readable.from([body]);
  };
  await rc.putBlob(sha256(body), body.length, open);
  assert.equal(opened, 1);
  c.resetCounts();
  await rc.putBlob(sha256(body), body.length, open);
  await Promise.all([1, 2, 3].map(() => rc.putBlob(sha256(body), body.length, open)));
  assert.equal(opened, 1, "open is not called for a blob the registry holds");
  assert.equal(c.requestCounts().POST ?? 0, 0, "no upload session was started");
});

test("records round-trip as OCI artifacts that skopeo reads; missing ones are undefined", async (t) => {
  const registry = await startRegistry(t);
  const rc = cache(t, `oci://${registry.repo("team/tug-cache")}`, client(t));
  const k1 = key("action one");
  const k2 = key("action two");
  const r1 = Buffer.from(JSON.stringify({ v: 1, outputs: ["sha256:abc"] }));
  const r2 = Buffer.from(JSON.stringify({ v: 1, outputs: [] }));
  assert.equal(await rc.getRecord(k1), undefined);
  await Promise.all([rc.putRecord(k1, r1), rc.putRecord(k2, r2)]);
  assert.deepEqual(await rc.getRecord(k1), r1);
  assert.deepEqual(await rc.getRecord(k2), r2);
  assert.equal(await rc.getRecord(key("action three")), undefined);

  // Overwriting a key moves the tag to the new record.
  const r1b = Buffer.from(JSON.stringify({ v: 1, outputs: ["sha256:def"] }));
  await rc.putRecord(k1, r1b);
  assert.deepEqual(await rc.getRecord(k1), r1b);

  const raw = (await skopeoInspectRaw(
    `docker://${registry.repo(`team/tug-cache:ac-${k2}`)}`,
  )) as RawManifest & {
    artifactType?: string;
  };
  assert.equal(raw.mediaType, "application/vnd.oci.image.manifest.v1+json");
  assert.equal(raw.artifactType, ACTION_RECORD_ARTIFACT_TYPE);
  assert.deepEqual(raw.config, { mediaType: EMPTY_MEDIA_TYPE, digest: EMPTY_DIGEST, size: 2 });
  assert.deepEqual(raw.layers, [
    { mediaType: ACTION_RECORD_MEDIA_TYPE, digest: sha256(r2), size: r2.length },
  ]);
  assert.equal(EMPTY_DIGEST, sha256("{}"));

  await assert.rejects(rc.getRecord("not-a-key"), /64 lowercase hex/);
});

test("a second cache instance with its own client reads what the first wrote", async (t) => {
  const registry = await startRegistry(t);
  const url = `oci://${registry.repo("team/tug-cache")}`;
  const blob = Buffer.from("written by A");
  const record = Buffer.from('{"v":1}');
  const k = key("shared action");
  const writer = ociRemoteCache(url);
  await writer.putBlob(sha256(blob), blob.length, async () => Readable.from([blob]));
  await writer.putRecord(k, record);
  await writer.close();

  // No shared client, connections or tokens: only what the registry stored.
  const reader = cache(t, url);
  assert.deepEqual(await reader.hasBlobs([sha256(blob)]), new Set([sha256(blob)]));
  assert.deepEqual(await bytesOf(await reader.getBlob(sha256(blob))), blob);
  assert.deepEqual(await reader.getRecord(k), record);
});

test("foreign and corrupt entries under an ac- tag are misses, never trusted", async (t) => {
  const registry = await startRegistry(t);
  const c = client(t);
  const rc = cache(t, `oci://${registry.repo("team/tug-cache")}`, c);

  // An ordinary image someone tagged ac-<hex> in the same repository.
  const foreign = key("foreign");
  const image = await memoryImage([await layerOf({ "a.txt": "a" })]);
  await pushArtifact(c, image, parseReference(registry.repo(`team/tug-cache:ac-${foreign}`)));
  assert.equal(await rc.getRecord(foreign), undefined);

  // A record whose stored bytes were altered behind the registry's back.
  const k = key("corrupt");
  const record = Buffer.from('{"v":1,"outputs":["sha256:0000"]}');
  await rc.putRecord(k, record);
  const hex = hexOf(sha256(record));
  const dataDir = join(registry.storage, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex);
  assert.deepEqual(await readdir(dataDir), ["data"]);
  await writeFile(join(dataDir, "data"), Buffer.from('{"v":1,"outputs":["sha256:6666"]}'));
  const repo = { registry: `${registry.host}:${registry.port}`, repository: "team/tug-cache" };
  await assert.rejects(bytesOf(await c.blob(repo, sha256(record))), /does not match its digest/);
  assert.equal(await rc.getRecord(k), undefined);
});

test("credentials come from the registry client", async (t) => {
  const username = "cache-user";
  const password = "cache-pass";
  const registry = await startRegistry(t, { htpasswd: { username, password } });
  const url = `oci://${registry.repo("team/tug-cache")}`;
  const anonymous = cache(t, url, client(t));
  await assert.rejects(anonymous.getRecord(key("x")), /requires authentication/);

  const rc = cache(t, url, client(t, { credentials: async () => ({ username, password }) }));
  const record = Buffer.from('{"v":1}');
  await rc.putRecord(key("x"), record);
  assert.deepEqual(await rc.getRecord(key("x")), record);
});
