import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { isTugError } from "../../../src/errors.ts";
import { sha256 } from "../../../src/oci/digest.ts";
import { parseReference } from "../../../src/oci/reference.ts";
import { RegistryClient } from "../../../src/oci/registry/client.ts";
import { pushArtifact } from "../../../src/oci/registry/push.ts";
import { fetchArtifact, resolveDigest } from "../../../src/oci/registry/remote-image.ts";
import { isIndex } from "../../../src/oci/types.ts";
import { layerOf, memoryImage, memoryIndex } from "../../support/memory-image.ts";
import { startRegistry } from "../../support/registry.ts";

async function readAll(s: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function newClient(t: { after: (fn: () => Promise<void>) => void }): RegistryClient {
  const c = new RegistryClient({ credentials: async () => undefined, retry: { retries: 1, baseMs: 1 } });
  t.after(() => c.close());
  return c;
}

test("fetches an image lazily by tag and by digest", async (t) => {
  const registry = await startRegistry(t);
  const c = newClient(t);
  const layers = [await layerOf({ a: "one" }), await layerOf({ b: "two" })];
  const image = await memoryImage(layers, { docker: true });
  const { digest } = await pushArtifact(c, image, parseReference(registry.repo("r/img:v1")));

  c.resetCounts();
  const byTag = await fetchArtifact(c, parseReference(registry.repo("r/img:v1")));
  assert.equal(c.requestCounts().total, 1, "only the manifest until more is asked for");
  assert.ok(!isIndex(byTag));
  assert.equal(await byTag.digest(), digest);
  assert.equal(byTag.mediaType(), "application/vnd.docker.distribution.manifest.v2+json");
  const remoteLayers = await byTag.layers();
  assert.equal(remoteLayers.length, 2);
  assert.equal(await remoteLayers[1]?.digest(), await layers[1]?.digest());
  assert.equal(remoteLayers[1]?.mediaType(), "application/vnd.docker.image.rootfs.diff.tar.gzip");
  assert.equal(c.requestCounts().total, 1);
  assert.equal(await remoteLayers[1]?.diffId(), await layers[1]?.diffId());
  assert.equal(await remoteLayers[0]?.diffId(), await layers[0]?.diffId());
  assert.equal(c.requestCounts().total, 2, "the config is fetched once");
  const stream = await remoteLayers[0]?.compressed();
  assert.ok(stream);
  const bytes = await readAll(stream);
  assert.deepEqual(bytes, layers[0]?.gz);

  const byDigest = await fetchArtifact(c, parseReference(`${registry.repo("r/img")}@${digest}`));
  assert.equal(await byDigest.digest(), digest);
  assert.equal(await resolveDigest(c, parseReference(registry.repo("r/img:v1"))), digest);
});

test("fetches an index and its child images", async (t) => {
  const registry = await startRegistry(t);
  const c = newClient(t);
  const amd = await memoryImage([await layerOf({ a: "amd" })]);
  const arm = await memoryImage([await layerOf({ a: "arm" })], {
    platform: { os: "linux", architecture: "arm64" },
  });
  const index = await memoryIndex([
    { image: amd, platform: { os: "linux", architecture: "amd64" } },
    { image: arm, platform: { os: "linux", architecture: "arm64" } },
  ]);
  await pushArtifact(c, index, parseReference(registry.repo("r/multi:v1")));
  const fetched = await fetchArtifact(c, parseReference(registry.repo("r/multi:v1")));
  assert.ok(isIndex(fetched));
  const images = await fetched.images();
  assert.deepEqual(
    images.map((i) => i.descriptor.platform?.architecture),
    ["amd64", "arm64"],
  );
  assert.equal((await images[1]?.image.config())?.architecture, "arm64");
});

test("a missing image is a clear 'not found'", async (t) => {
  const registry = await startRegistry(t);
  await assert.rejects(fetchArtifact(newClient(t), parseReference(registry.repo("no/such:tag"))), (e) => {
    assert.ok(isTugError(e));
    assert.match(e.what, /image 127\.0\.0\.1:\d+\/no\/such not found/);
    assert.ok(e.hint);
    return true;
  });
});

test("content that does not match its digest is rejected", async (t) => {
  const good = Buffer.from('{"schemaVersion":2}');
  const goodDigest = sha256(good);
  const blob = Buffer.from("the real bytes");
  const blobDigest = sha256(blob);
  // A registry that serves other bytes than the ones asked for.
  const server = createServer((req, res) => {
    if (req.url === "/v2/") return void res.writeHead(200).end("{}");
    if (req.url?.includes("/manifests/")) {
      res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" });
      return void res.end('{"schemaVersion":2,"tampered":true}');
    }
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.end("other bytes, same length");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const c = newClient(t);

  await assert.rejects(fetchArtifact(c, parseReference(`${host}/x/y@${goodDigest}`)), (e) => {
    assert.ok(isTugError(e));
    assert.match(e.what, /does not match its digest/);
    return true;
  });
  const stream = await c.blob({ registry: host, repository: "x/y" }, blobDigest);
  await assert.rejects(readAll(stream), (e) => {
    assert.ok(isTugError(e));
    assert.match(e.what, new RegExp(`blob ${blobDigest} does not match its digest`));
    return true;
  });
});
