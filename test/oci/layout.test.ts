import assert from "node:assert/strict";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { isTugError, type TugError } from "../../src/errors.ts";
import { hexOf, sha256 } from "../../src/oci/digest.ts";
import { appendLayers, emptyImage, indexFrom, withConfig } from "../../src/oci/image.ts";
import { type FileBackedLayer, REF_NAME, readLayout, writeLayout } from "../../src/oci/layout.ts";
import { type Image, type ImageIndex, isIndex, type Layer } from "../../src/oci/types.ts";
import { layerOf, unreadable } from "./memory-layer.ts";
import { run, tempDir } from "./tools.ts";

const amd64 = { os: "linux", architecture: "amd64" };

async function sampleImage(text = "hello\n", platform = amd64): Promise<Image> {
  const base = await layerOf({ "etc/greeting": "hi\n" });
  const app = await layerOf({ "hello.txt": text });
  return withConfig(appendLayers(appendLayers(emptyImage(platform), [base]), [app], "app"), {
    env: { PATH: "/usr/bin" },
    cmd: ["/hello"],
  });
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function asImage(p: Promise<Image | ImageIndex>): Promise<Image> {
  const a = await p;
  assert.ok(!isIndex(a), "expected an image");
  return a;
}

/** Files in blobs/sha256 that are not named by a digest: leftovers of an interrupted write. */
async function strays(dir: string): Promise<string[]> {
  return (await readdir(join(dir, "blobs", "sha256"))).filter((n) => !/^[a-f0-9]{64}$/.test(n));
}

test("writes a layout that skopeo reads and umoci unpacks", async (t) => {
  const tmp = await tempDir(t);
  const dir = join(tmp, "layout");
  const image = await sampleImage();
  const result = await writeLayout(dir, image, { tags: ["v1"] });
  assert.equal(result.digest, await image.digest());
  assert.equal(result.writtenBlobs, 4, "two layers, config, manifest");
  assert.deepEqual(await strays(dir), []);

  const raw = await run("skopeo", ["inspect", "--raw", `oci:${dir}:v1`]);
  assert.equal(raw, (await image.rawManifest()).toString());
  const info = JSON.parse(await run("skopeo", ["inspect", `oci:${dir}:v1`])) as {
    Architecture: string;
    Layers: string[];
    Env: string[];
  };
  assert.equal(info.Architecture, "amd64");
  assert.deepEqual(info.Env, ["PATH=/usr/bin"]);
  assert.equal(info.Layers.length, 2);

  // umoci checks every blob's digest while unpacking (running as root: no --rootless needed).
  const bundle = join(tmp, "bundle");
  await run("umoci", ["unpack", "--image", `${dir}:v1`, bundle]);
  assert.equal(await readFile(join(bundle, "rootfs", "hello.txt"), "utf8"), "hello\n");
  assert.equal(await readFile(join(bundle, "rootfs", "etc", "greeting"), "utf8"), "hi\n");
});

test("reads back what it wrote, lazily and byte for byte", async (t) => {
  const dir = join(await tempDir(t), "layout");
  const image = await sampleImage();
  await writeLayout(dir, image, { tags: ["v1"] });
  const back = await asImage(readLayout(dir, "v1"));
  assert.equal(await back.digest(), await image.digest());
  assert.deepEqual(await back.rawManifest(), await image.rawManifest());
  assert.deepEqual(await back.rawConfig(), await image.rawConfig());
  const [ours, theirs] = [await image.layers(), await back.layers()];
  assert.equal(theirs.length, 2);
  for (const [i, layer] of theirs.entries()) {
    assert.equal(await layer.digest(), await ours[i]!.digest());
    assert.equal(await layer.diffId(), await ours[i]!.diffId());
    assert.deepEqual(await bytesOf(await layer.compressed()), await bytesOf(await ours[i]!.compressed()));
  }
  // With one manifest in the layout, no tag is needed.
  assert.equal(await (await readLayout(dir)).digest(), await image.digest());
});

test("round-trips through skopeo: oci → docker-archive → oci, then tug reads it", async (t) => {
  const tmp = await tempDir(t);
  const dir = join(tmp, "layout");
  const image = await sampleImage();
  await writeLayout(dir, image, { tags: ["v1"] });
  const archive = join(tmp, "x.tar");
  await run("skopeo", ["copy", "-q", `oci:${dir}:v1`, `docker-archive:${archive}:example.com/hello:v1`]);
  const archived = JSON.parse(await run("skopeo", ["inspect", `docker-archive:${archive}`])) as {
    Layers: string[];
  };
  assert.equal(archived.Layers.length, 2);
  const dir2 = join(tmp, "back");
  await run("skopeo", ["copy", "-q", `docker-archive:${archive}`, `oci:${dir2}:back`]);

  const back = await asImage(readLayout(dir2, "back"));
  const config = await back.config();
  assert.deepEqual(config.rootfs.diff_ids, (await image.config()).rootfs.diff_ids);
  assert.deepEqual(config.config.Cmd, ["/hello"]);
  for (const layer of await back.layers()) {
    const bytes = await bytesOf(await layer.compressed()); // verifies the digest as it streams
    assert.equal(bytes.length, await layer.size());
  }
});

test("writes and reads back an index of two platforms", async (t) => {
  const dir = join(await tempDir(t), "layout");
  const arm64 = { os: "linux", architecture: "arm64" };
  const amd = await sampleImage("amd\n", amd64);
  const arm = await sampleImage("arm\n", arm64);
  const index = indexFrom([
    { image: amd, platform: amd64 },
    { image: arm, platform: arm64 },
  ]);
  const result = await writeLayout(dir, index, { tags: ["multi"] });
  // The shared base layer is written once: 3 layers, 2 configs, 2 manifests, 1 index.
  assert.equal(result.writtenBlobs, 8);
  assert.equal(
    await run("skopeo", ["inspect", "--raw", `oci:${dir}:multi`]),
    (await index.rawManifest()).toString(),
  );
  const armInfo = JSON.parse(
    await run("skopeo", [
      "--override-arch",
      "arm64",
      "--override-os",
      "linux",
      "inspect",
      `oci:${dir}:multi`,
    ]),
  ) as { Architecture: string; Layers: string[] };
  assert.equal(armInfo.Architecture, "arm64");
  assert.deepEqual(
    armInfo.Layers,
    (await arm.manifest()).layers.map((l) => l.digest),
  );

  const back = await readLayout(dir, "multi");
  assert.ok(isIndex(back));
  assert.equal(await back.digest(), await index.digest());
  const children = await back.images();
  assert.deepEqual(
    children.map((c) => c.descriptor.platform?.architecture),
    ["amd64", "arm64"],
  );
  assert.equal((await children[1]!.image.config()).architecture, "arm64");
  const armLayers = await children[1]!.image.layers();
  assert.deepEqual((await bytesOf(await armLayers[1]!.compressed())).length, await armLayers[1]!.size());
});

async function rejectsCorrupt(p: Promise<unknown>): Promise<TugError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(isTugError(caught), `expected a TugError, got ${String(caught)}`);
  assert.match(caught.what, /corrupt|does not match/);
  return caught;
}

test("a corrupt layer, config or manifest blob is detected on read", async (t) => {
  const dir = join(await tempDir(t), "layout");
  const image = await sampleImage();
  await writeLayout(dir, image, { tags: ["v1"] });
  const m = await image.manifest();
  const flip = async (digest: `sha256:${string}`) => {
    const path = join(dir, "blobs", "sha256", hexOf(digest));
    const data = await readFile(path);
    data[data.length - 5]! ^= 0xff; // same size, different bytes
    await writeFile(path, data);
  };

  await flip(m.layers[1]!.digest);
  const layers = await (await asImage(readLayout(dir, "v1"))).layers();
  const err = await rejectsCorrupt(bytesOf(await layers[1]!.compressed()));
  assert.ok(err.what.includes(m.layers[1]!.digest) && err.what.includes(dir));
  assert.ok(err.hint);
  // The intact layer still reads.
  await bytesOf(await layers[0]!.compressed());

  await flip(m.config.digest);
  await rejectsCorrupt((await asImage(readLayout(dir, "v1"))).config());

  await flip(await image.digest());
  await rejectsCorrupt((await asImage(readLayout(dir, "v1"))).manifest());
});

test("re-writing the same image writes no blobs and never opens its layers", async (t) => {
  const dir = join(await tempDir(t), "layout");
  const image = await sampleImage();
  await writeLayout(dir, image, { tags: ["v1"] });
  const layers = await Promise.all((await image.layers()).map(async (l) => unreadable(l)));
  const again = withConfig(appendLayers(appendLayers(emptyImage(amd64), [layers[0]!]), [layers[1]!], "app"), {
    env: { PATH: "/usr/bin" },
    cmd: ["/hello"],
  });
  assert.equal(await again.digest(), await image.digest());
  const result = await writeLayout(dir, again, { tags: ["v1"] });
  assert.deepEqual(result, { digest: await image.digest(), writtenBytes: 0, writtenBlobs: 0 });
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as { manifests: unknown[] };
  assert.equal(index.manifests.length, 1);
});

test("updating index.json keeps other tags and moves a re-used tag", async (t) => {
  const dir = join(await tempDir(t), "layout");
  const a = await sampleImage("a\n");
  const b = await sampleImage("b\n");
  const c = await sampleImage("c\n");
  await writeLayout(dir, a, { tags: ["a", "latest"] });
  const rb = await writeLayout(dir, b, { tags: ["b"] });
  assert.equal(rb.writtenBlobs, 3, "the base layer is shared; app layer, config, manifest are new");
  await writeLayout(dir, c, { tags: ["a"] });

  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as {
    schemaVersion: number;
    manifests: Array<{ digest: string; annotations: Record<string, string> }>;
  };
  assert.equal(index.schemaVersion, 2);
  const byTag = Object.fromEntries(index.manifests.map((m) => [m.annotations[REF_NAME], m.digest]));
  assert.deepEqual(byTag, { latest: await a.digest(), b: await b.digest(), a: await c.digest() });
  assert.equal(index.manifests.length, 3);
  assert.equal(await (await readLayout(dir)).digest(), await a.digest(), "no tag means latest");
  const raw = await run("skopeo", ["inspect", "--raw", `oci:${dir}:b`]);
  assert.equal(raw, (await b.rawManifest()).toString());
});

test("explains a directory that is not a layout and a tag that is not there", async (t) => {
  const tmp = await tempDir(t);
  await assert.rejects(readLayout(tmp), (e) => isTugError(e) && /not an OCI image layout/.test(e.what));

  const dir = join(tmp, "layout");
  await writeLayout(dir, await sampleImage("a\n"), { tags: ["one"] });
  await writeLayout(dir, await sampleImage("b\n"), { tags: ["two"] });
  await assert.rejects(
    readLayout(dir, "three"),
    (e) => isTugError(e) && /"three"/.test(e.what) && e.hint === "its tags are: one, two",
  );
  await assert.rejects(readLayout(dir), (e) => isTugError(e) && /"latest"/.test(e.what));

  const other = join(tmp, "other");
  await mkdir(other);
  await writeFile(join(other, "notes.txt"), "mine");
  await assert.rejects(
    writeLayout(other, await sampleImage(), { tags: ["x"] }),
    (e) => isTugError(e) && /not empty/.test(e.what),
  );
});

function failingLayer(base: Layer, after: Buffer): Layer {
  return {
    ...base,
    digest: () => base.digest(),
    diffId: () => base.diffId(),
    size: () => base.size(),
    mediaType: () => base.mediaType(),
    compressed: async () =>
      Readable.from(
        (async function* () {
          yield after;
          throw new Error("killed mid-stream");
        })(),
      ),
  };
}

test("a failed or lying layer stream leaves no blob under its final name", async (t) => {
  const dir = join(await tempDir(t), "layout");
  const layer = await layerOf({ "big.bin": Buffer.alloc(100_000, 7) });
  const image = appendLayers(emptyImage(amd64), [failingLayer(layer, layer.gz.subarray(0, 1000))]);
  await assert.rejects(writeLayout(dir, image, { tags: ["v1"] }), /killed mid-stream/);
  const final = join(dir, "blobs", "sha256", hexOf(await layer.digest()));
  await assert.rejects(stat(final), { code: "ENOENT" });
  assert.deepEqual(await strays(dir), []);

  // A layer whose bytes differ from its claimed digest is refused, not stored under that digest.
  const liar: Layer = {
    ...layer,
    compressed: async () => Readable.from([Buffer.from(layer.gz).fill(1, 20, 30)]),
  };
  await assert.rejects(
    writeLayout(dir, appendLayers(emptyImage(amd64), [liar]), { tags: ["v1"] }),
    (e) => isTugError(e) && /do not match/.test(e.what),
  );
  await assert.rejects(stat(final), { code: "ENOENT" });
  assert.deepEqual(await strays(dir), []);
  // Nothing was tagged by the failed writes.
  await assert.rejects(readLayout(dir), (e) => isTugError(e) && /"latest"/.test(e.what));
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as { manifests: unknown[] };
  assert.equal(index.manifests.length, 0);
});

test("a file-backed layer is copied into the layout (never a hardlink the cache could corrupt)", async (t) => {
  const tmp = await tempDir(t);
  const layer = await layerOf({ "f.txt": "from the cache\n" });
  const path = join(tmp, "cached-blob");
  await writeFile(path, layer.gz);
  const cached: FileBackedLayer = { ...unreadable(layer), path };
  const dir = join(tmp, "layout");
  const result = await writeLayout(dir, appendLayers(emptyImage(amd64), [cached]), { tags: ["v1"] });
  assert.equal(result.writtenBlobs, 3);
  const placed = await stat(join(dir, "blobs", "sha256", hexOf(await layer.digest())));
  const source = await stat(path);
  assert.notEqual(placed.ino, source.ino);
  assert.equal(placed.nlink, 1);
  assert.equal(source.nlink, 1);
  assert.equal(
    sha256(await readFile(join(dir, "blobs", "sha256", hexOf(await layer.digest())))),
    await layer.digest(),
  );
  await run("skopeo", ["inspect", `oci:${dir}:v1`]);
});
