import assert from "node:assert/strict";
import { test } from "node:test";
import { sha256 } from "../../src/oci/digest.ts";
import {
  appendLayers,
  emptyImage,
  imageFrom,
  indexFrom,
  withAnnotations,
  withConfig,
  withCreated,
} from "../../src/oci/image.ts";
import { MediaType } from "../../src/oci/types.ts";
import { layerOf, unreadable } from "./memory-layer.ts";

const amd64 = { os: "linux", architecture: "amd64" };

async function hello() {
  const layer = await layerOf({ "hello.txt": "hello\n" });
  return { layer, image: appendLayers(emptyImage(amd64), [layer], "hello") };
}

test("an image's digest is the sha256 of its raw manifest and stable across constructions", async () => {
  const a = (await hello()).image;
  const b = (await hello()).image;
  assert.equal(await a.digest(), await b.digest());
  assert.equal(await a.digest(), sha256(await a.rawManifest()));
  assert.deepEqual(JSON.parse((await a.rawManifest()).toString()), await a.manifest());
  assert.ok(!(await a.rawManifest()).toString().includes(" "), "canonical JSON has no whitespace");
  const m = await a.manifest();
  assert.equal(m.config.digest, sha256(await a.rawConfig()));
  assert.equal(m.config.mediaType, MediaType.ociConfig);
});

test("building a manifest never opens a layer's bytes", async () => {
  const layer = await layerOf({ a: "a" });
  const image = appendLayers(emptyImage(amd64), [unreadable(layer)]);
  const m = await image.manifest();
  assert.deepEqual(m.layers, [
    { mediaType: MediaType.ociLayerGzip, digest: await layer.digest(), size: layer.gz.length },
  ]);
  assert.deepEqual((await image.config()).rootfs.diff_ids, [await layer.diffId()]);
});

test("emptyImage is scratch for its platform", async () => {
  const image = emptyImage({ os: "linux", architecture: "arm", variant: "v7" });
  const c = await image.config();
  assert.deepEqual(c, {
    architecture: "arm",
    os: "linux",
    variant: "v7",
    config: {},
    rootfs: { type: "layers", diff_ids: [] },
  });
  assert.deepEqual((await image.manifest()).layers, []);
});

test("appendLayers appends diff_ids, descriptors and history, leaving the base unchanged", async () => {
  const { image, layer } = await hello();
  const second = await layerOf({ "b.txt": "b" });
  const next = appendLayers(image, [second], "b");
  const c = await next.config();
  assert.deepEqual(c.rootfs.diff_ids, [await layer.diffId(), await second.diffId()]);
  assert.deepEqual(c.history, [
    { created_by: "tug", comment: "hello" },
    { created_by: "tug", comment: "b" },
  ]);
  assert.equal((await next.manifest()).layers.length, 2);
  assert.equal((await image.manifest()).layers.length, 1);
  assert.notEqual(await next.digest(), await image.digest());
});

test("appendLayers pads history for a base that had layers but no history", async () => {
  const a = await layerOf({ a: "a" });
  const b = await layerOf({ b: "b" });
  const image = appendLayers(appendLayers(emptyImage(amd64), [a]), [b], "app");
  assert.deepEqual((await image.config()).history, [
    { created_by: "" },
    { created_by: "tug", comment: "app" },
  ]);
});

test("withConfig merges env by key, sets entrypoint/cmd, workdir, user, ports and labels", async () => {
  const base = withConfig((await hello()).image, {
    env: { PATH: "/usr/bin", LANG: "C" },
    cmd: ["python3"],
    labels: { a: "1" },
    exposedPorts: ["80"],
  });
  const image = withConfig(base, {
    env: { PATH: "/app/bin:/usr/bin", TZ: "UTC" },
    entrypoint: ["/app/run"],
    workdir: "/app",
    user: "1000:1000",
    exposedPorts: ["8080", "53/udp"],
    labels: { a: "2", b: "3" },
  });
  const c = (await image.config()).config;
  assert.deepEqual(c.Env, ["PATH=/app/bin:/usr/bin", "LANG=C", "TZ=UTC"]);
  assert.deepEqual(c.Entrypoint, ["/app/run"]);
  assert.equal(c.Cmd, undefined, "a new entrypoint drops the inherited cmd, as in a Dockerfile");
  assert.equal(c.WorkingDir, "/app");
  assert.equal(c.User, "1000:1000");
  assert.deepEqual(c.ExposedPorts, { "80/tcp": {}, "8080/tcp": {}, "53/udp": {} });
  assert.deepEqual(c.Labels, { a: "2", b: "3" });
  const both = withConfig(base, { entrypoint: ["/x"], cmd: ["-v"] });
  assert.deepEqual((await both.config()).config.Cmd, ["-v"]);
  assert.deepEqual((await base.config()).config.Cmd, ["python3"]);
});

test("withAnnotations and withCreated give new digests", async () => {
  const { image } = await hello();
  const annotated = withAnnotations(withAnnotations(image, { x: "1", y: "1" }), { y: "2" });
  assert.deepEqual((await annotated.manifest()).annotations, { x: "1", y: "2" });
  assert.equal((await image.manifest()).annotations, undefined);
  const dated = withCreated(image, "2024-01-02T03:04:05Z");
  assert.equal((await dated.config()).created, "2024-01-02T03:04:05Z");
  const digests = new Set([await image.digest(), await annotated.digest(), await dated.digest()]);
  assert.equal(digests.size, 3);
});

test("imageFrom rejects a config whose diff_ids do not match the layers", async () => {
  const layer = await layerOf({ a: "a" });
  assert.throws(() => imageFrom({ config: { ...emptyConfig(), config: {} }, layers: [layer] }), /diff_ids/);
});

function emptyConfig() {
  return {
    architecture: "amd64",
    os: "linux",
    config: {},
    rootfs: { type: "layers" as const, diff_ids: [] },
  };
}

test("indexFrom lists children with their platforms and sizes", async () => {
  const arm = appendLayers(emptyImage({ os: "linux", architecture: "arm64" }), [await layerOf({ a: "arm" })]);
  const { image: amd } = await hello();
  const index = indexFrom(
    [
      { image: amd, platform: amd64 },
      { image: arm, platform: { os: "linux", architecture: "arm64" } },
    ],
    { "org.opencontainers.image.source": "test" },
  );
  const m = await index.manifest();
  assert.equal(m.mediaType, MediaType.ociIndex);
  assert.deepEqual(m.manifests[1], {
    mediaType: MediaType.ociManifest,
    digest: await arm.digest(),
    size: (await arm.rawManifest()).length,
    platform: { os: "linux", architecture: "arm64" },
  });
  assert.equal(await index.digest(), sha256(await index.rawManifest()));
  const children = await index.images();
  assert.equal(children[0]?.image, amd);
  assert.equal(children[1]?.descriptor.platform?.architecture, "arm64");
});
