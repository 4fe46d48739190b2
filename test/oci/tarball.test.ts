import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { appendLayers, emptyImage, withConfig } from "../../src/oci/image.ts";
import { readLayout, writeLayout } from "../../src/oci/layout.ts";
import { writeDockerTarball } from "../../src/oci/tarball.ts";
import { type Image, isIndex, type Layer } from "../../src/oci/types.ts";
import { layerOf } from "./memory-layer.ts";
import { podman, run, tempDir } from "./tools.ts";

const amd64 = { os: "linux", architecture: "amd64" };

async function sampleImages(): Promise<[Image, Image]> {
  const base = await layerOf({ "etc/greeting": "hi\n" });
  const one = appendLayers(emptyImage(amd64), [base, await layerOf({ "one.txt": "one\n" })]);
  const two = appendLayers(emptyImage(amd64), [base, await layerOf({ "two.txt": "two\n" })]);
  return [withConfig(one, { cmd: ["/one"] }), withConfig(two, { cmd: ["/two"] })];
}

test("skopeo reads the tarball both as a docker archive and as an OCI archive", async (t) => {
  const tmp = await tempDir(t);
  const file = join(tmp, "images.tar");
  const [one, two] = await sampleImages();
  await writeDockerTarball(file, [
    { image: one, repoTags: ["example.com/one:v1"] },
    { image: two, repoTags: ["two:dev"] },
  ]);

  const config = await run("skopeo", [
    "inspect",
    "--config",
    "--raw",
    `docker-archive:${file}:example.com/one:v1`,
  ]);
  assert.equal(config, (await one.rawConfig()).toString());
  const info = JSON.parse(await run("skopeo", ["inspect", `docker-archive:${file}:two:dev`])) as {
    Layers: string[];
  };
  // docker-archive reports layers by diff_id: skopeo decompressed the gzip blobs and checked them.
  assert.deepEqual(info.Layers, (await two.config()).rootfs.diff_ids);

  assert.equal(
    await run("skopeo", ["inspect", "--raw", `oci-archive:${file}:v1`]),
    (await one.rawManifest()).toString(),
  );
  assert.equal(
    await run("skopeo", ["inspect", "--raw", `oci-archive:${file}:dev`]),
    (await two.rawManifest()).toString(),
  );

  assert.deepEqual(await readdir(tmp), ["images.tar"], "no temp file is left");
});

test("podman load accepts it and the files are in the image", async (t) => {
  const tmp = await tempDir(t);
  const file = join(tmp, "images.tar");
  const [one] = await sampleImages();
  await writeDockerTarball(file, [
    { image: one, repoTags: ["example.com/one:v1", "example.com/one:latest"] },
  ]);

  const out = await podman(tmp, ["load", "-q", "-i", file]);
  assert.match(out, /example\.com\/one:v1/);
  const ids = (await podman(tmp, ["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]))
    .trim()
    .split("\n")
    .sort();
  const configHex = (await one.manifest()).config.digest.slice("sha256:".length, "sha256:".length + 12);
  assert.deepEqual(ids, [`example.com/one:latest ${configHex}`, `example.com/one:v1 ${configHex}`]);
  const root = (await podman(tmp, ["image", "mount", "example.com/one:v1"])).trim();
  try {
    assert.equal(await readFile(join(root, "one.txt"), "utf8"), "one\n");
    assert.equal(await readFile(join(root, "etc", "greeting"), "utf8"), "hi\n");
  } finally {
    await podman(tmp, ["image", "unmount", "example.com/one:v1"]);
  }
});

test("the same images give the same bytes, with each shared blob stored once", async (t) => {
  const tmp = await tempDir(t);
  const [one, two] = await sampleImages();
  const entries = [
    { image: one, repoTags: ["one:1"] },
    { image: two, repoTags: ["two:1"] },
  ];
  await writeDockerTarball(join(tmp, "a.tar"), entries);
  await writeFile(join(tmp, "b.tar"), "an older file that gets replaced");
  await writeDockerTarball(join(tmp, "b.tar"), entries);
  const a = await readFile(join(tmp, "a.tar"));
  assert.deepEqual(a, await readFile(join(tmp, "b.tar")));

  const listing = (await run("tar", ["tf", join(tmp, "a.tar")])).trim().split("\n");
  assert.deepEqual(listing.slice(0, 5), [
    "oci-layout",
    "index.json",
    "manifest.json",
    "blobs/",
    "blobs/sha256/",
  ]);
  // 3 distinct layers + 2 configs + 2 manifests.
  assert.equal(listing.filter((n) => /^blobs\/sha256\/[a-f0-9]{64}$/.test(n)).length, 7);
  const manifest = JSON.parse(await run("tar", ["xOf", join(tmp, "a.tar"), "manifest.json"])) as Array<{
    Config: string;
    RepoTags: string[];
    Layers: string[];
  }>;
  assert.deepEqual(
    manifest.map((m) => m.RepoTags),
    [["one:1"], ["two:1"]],
  );
  assert.equal(manifest[0]!.Layers[0], manifest[1]!.Layers[0]);
});

test("a failing layer leaves neither the tarball nor a temp file", async (t) => {
  const tmp = await tempDir(t);
  const good = await layerOf({ "x.txt": "x" });
  const broken: Layer = {
    ...good,
    compressed: async () =>
      Readable.from(
        (async function* () {
          yield good.gz.subarray(0, 10);
          throw new Error("disk went away");
        })(),
      ),
  };
  const image = appendLayers(emptyImage(amd64), [broken]);
  await assert.rejects(
    writeDockerTarball(join(tmp, "x.tar"), [{ image, repoTags: ["x:1"] }]),
    /disk went away/,
  );
  assert.deepEqual(await readdir(tmp), []);
});

test("an image read from a layout streams into a tarball with its digests checked", async (t) => {
  const tmp = await tempDir(t);
  const [one] = await sampleImages();
  await writeLayout(join(tmp, "layout"), one, { tags: ["v1"] });
  const fromLayout = await readLayout(join(tmp, "layout"), "v1");
  assert.ok(!isIndex(fromLayout));
  const file = join(tmp, "one.tar");
  await writeDockerTarball(file, [{ image: fromLayout, repoTags: ["one:v1"] }]);
  assert.equal(
    await run("skopeo", ["inspect", "--raw", `oci-archive:${file}:v1`]),
    (await one.rawManifest()).toString(),
  );
});
