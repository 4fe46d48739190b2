import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { isTugError } from "../../../src/errors.ts";
import { parseReference } from "../../../src/oci/reference.ts";
import { RegistryClient } from "../../../src/oci/registry/client.ts";
import { type PushEvent, pushArtifact } from "../../../src/oci/registry/push.ts";
import { layerFromTar, layerOf, memoryImage, memoryIndex, noise, tarOf } from "../../support/memory-image.ts";
import { startRegistry } from "../../support/registry.ts";
import { tempDir } from "../../support/tmp.ts";
import { freePort, skopeoCopy, skopeoInspectRaw } from "../../support/tools.ts";

function client(
  t: { after: (fn: () => Promise<void>) => void },
  opts: ConstructorParameters<typeof RegistryClient>[0] = {},
) {
  const c = new RegistryClient({ credentials: async () => undefined, ...opts });
  t.after(() => c.close());
  return c;
}

test("pushes an image that skopeo reads back and copies", async (t) => {
  const registry = await startRegistry(t);
  const c = client(t);
  const image = await memoryImage([
    await layerOf({ "hello.txt": "hello\n" }),
    await layerOf({ "b.txt": "b" }),
  ]);
  const events: PushEvent[] = [];
  const res = await pushArtifact(c, image, parseReference(registry.repo("demo/web:v1")), {
    onEvent: (e) => events.push(e),
  });
  assert.equal(res.digest, await image.digest());
  assert.equal(res.uploadedBlobs, 3);
  assert.equal(res.existingBlobs, 0);
  assert.equal(res.reference, `${registry.repo("demo/web:v1")}@${res.digest}`);
  assert.ok(events.some((e) => e.type === "manifest" && e.reference === "v1"));

  const raw = await skopeoInspectRaw(`docker://${registry.repo("demo/web:v1")}`);
  assert.deepEqual(raw, JSON.parse((await image.rawManifest()).toString()));
  const dir = await tempDir(t);
  await skopeoCopy(`docker://${registry.repo("demo/web:v1")}`, `oci:${join(dir, "layout")}:v1`);
  const index = JSON.parse(await readFile(join(dir, "layout", "index.json"), "utf8")) as {
    manifests: Array<{ digest: string }>;
  };
  assert.equal(index.manifests[0]?.digest, res.digest);
});

test("a second push of the same image HEADs blobs and uploads nothing", async (t) => {
  const registry = await startRegistry(t);
  const c = client(t);
  const image = await memoryImage([await layerOf({ a: "1" }), await layerOf({ b: "2" })]);
  const target = parseReference(registry.repo("demo/same:v1"));
  await pushArtifact(c, image, target);
  const opened = image.memoryLayers.map((l) => l.opened);
  c.resetCounts();
  const res = await pushArtifact(c, image, target);
  assert.equal(res.uploadedBlobs, 0);
  assert.equal(res.existingBlobs, 3);
  assert.equal(res.pushedBytes, 0);
  const counts = c.requestCounts();
  assert.equal(counts.HEAD, 3);
  assert.equal(counts.POST, undefined);
  assert.equal(counts.PATCH, undefined);
  assert.equal(counts.PUT, 1, "only the manifest");
  assert.deepEqual(
    image.memoryLayers.map((l) => l.opened),
    opened,
    "layers the registry has are never read",
  );
});

test("pushing to a second repository mounts blobs instead of uploading", async (t) => {
  const registry = await startRegistry(t);
  const c = client(t);
  const image = await memoryImage([await layerOf({ a: "mount me" })]);
  await pushArtifact(c, image, parseReference(registry.repo("team/one:v1")));
  c.resetCounts();
  const res = await pushArtifact(c, image, parseReference(registry.repo("team/two:v1")), {
    mountFrom: ["team/one"],
  });
  assert.equal(res.mountedBlobs, 2);
  assert.equal(res.uploadedBlobs, 0);
  const counts = c.requestCounts();
  assert.equal(counts.POST, 2, "one mount per blob");
  assert.equal(counts.PATCH, undefined);
  assert.equal(counts.PUT, 1);
  await skopeoInspectRaw(`docker://${registry.repo("team/two:v1")}`);
});

test("a failed mount falls back to uploading through the session it opened", async (t) => {
  const registry = await startRegistry(t);
  const c = client(t);
  const image = await memoryImage([await layerOf({ a: "not anywhere yet" })]);
  c.resetCounts();
  const res = await pushArtifact(c, image, parseReference(registry.repo("fresh/app:v1")), {
    mountFrom: ["nothing/here"],
  });
  assert.equal(res.uploadedBlobs, 2);
  const counts = c.requestCounts();
  assert.equal(counts.POST, 2, "the mount POSTs opened the upload sessions");
  await skopeoInspectRaw(`docker://${registry.repo("fresh/app:v1")}`);
});

test("large blobs stream through PATCH, small ones go in one PUT", async (t) => {
  const registry = await startRegistry(t);
  const c = client(t, { monolithicMaxBytes: 1024 * 1024 });
  const big = layerFromTar(await tarOf({ big: noise(3 * 1024 * 1024, "big") }));
  const image = await memoryImage([big, await layerOf({ small: "x" })]);
  c.resetCounts();
  const res = await pushArtifact(c, image, parseReference(registry.repo("demo/big:v1")));
  assert.equal(res.uploadedBlobs, 3);
  assert.ok(res.pushedBytes > 3 * 1024 * 1024);
  const counts = c.requestCounts();
  assert.equal(counts.PATCH, 1);
  assert.equal(counts.PUT, 4, "three blob PUTs and the manifest");
  const dir = await tempDir(t);
  await skopeoCopy(`docker://${registry.repo("demo/big:v1")}`, `oci:${dir}:v1`);
});

test("pushes an index: children by digest, a shared layer once, then the tag", async (t) => {
  const registry = await startRegistry(t);
  const c = client(t);
  const shared = await layerOf({ shared: "both platforms" });
  const amd = await memoryImage([shared, await layerOf({ arch: "amd64" })]);
  const arm = await memoryImage([shared, await layerOf({ arch: "arm64" })], {
    platform: { os: "linux", architecture: "arm64" },
  });
  const index = await memoryIndex([
    { image: amd, platform: { os: "linux", architecture: "amd64" } },
    { image: arm, platform: { os: "linux", architecture: "arm64" } },
  ]);
  const res = await pushArtifact(c, index, parseReference(registry.repo("multi/app:v1")), { concurrency: 2 });
  assert.equal(res.digest, await index.digest());
  assert.equal(res.uploadedBlobs, 5, "2 configs + 3 distinct layers");
  assert.equal(shared.opened, 1);
  const raw = (await skopeoInspectRaw(`docker://${registry.repo("multi/app:v1")}`)) as unknown as {
    manifests: unknown[];
  };
  assert.equal(raw.manifests.length, 2);
  const dir = await tempDir(t);
  await skopeoCopy(`docker://${registry.repo("multi/app:v1")}`, `oci:${dir}:v1`, { all: true });
});

test("pushes Docker schema 2 images", async (t) => {
  const registry = await startRegistry(t);
  const c = client(t);
  const image = await memoryImage([await layerOf({ d: "docker" })], { docker: true });
  await pushArtifact(c, image, parseReference(registry.repo("docker/img:v1")));
  const raw = await skopeoInspectRaw(`docker://${registry.repo("docker/img:v1")}`);
  assert.equal(raw.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
});

test("an unreachable registry fails fast with a clear error", async (t) => {
  const port = await freePort();
  const c = client(t);
  const image = await memoryImage([await layerOf({ a: "1" })]);
  await assert.rejects(pushArtifact(c, image, parseReference(`127.0.0.1:${port}/x/y:v1`)), (e) => {
    assert.ok(isTugError(e));
    assert.match(e.what, /cannot reach registry 127\.0\.0\.1:\d+: connection refused/);
    assert.ok(e.hint);
    return true;
  });
});
