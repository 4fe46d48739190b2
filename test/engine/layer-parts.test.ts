import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { Engine } from "../../src/engine/engine.ts";
import { imageFileTables } from "../../src/engine/image-files.ts";
import { cachedLayer, type LayerRecipe } from "../../src/engine/layer-action.ts";
import type { LayerPart } from "../../src/engine/layer-parts.ts";
import type { Compression } from "../../src/oci/compress.ts";
import { readLayerFileTable } from "../../src/oci/file-table.ts";
import type { LayerEntry } from "../../src/oci/tar.ts";
import type { Image, Layer } from "../../src/oci/types.ts";
import { tempDir } from "../support/tmp.ts";

const exec = promisify(execFile);
const gz1: Compression = { kind: "gzip", level: 1 };

const file = (path: string, text: string, mode = 0o644): LayerEntry => ({
  path,
  type: "file",
  mode,
  data: Buffer.from(text),
});

/** Three "wheels" sharing directories (site-packages, a namespace dir, bin), one large enough for several gzip members. */
function wheelFiles(version: string): Record<string, LayerEntry[]> {
  return {
    a: [
      file("app/site-packages/ns/a/__init__.py", `A = "${version}"\n`),
      file("app/site-packages/a-1.dist-info/METADATA", "Name: a\n"),
      file("app/bin/a-tool", "#!/usr/bin/env python3\n", 0o755),
    ],
    b: [
      file("app/site-packages/ns/b/__init__.py", "B = 1\n"),
      file("app/site-packages/ns/b/big.bin", "x".repeat(3 << 20)),
      { path: "app/site-packages/ns/b/link.py", type: "symlink", mode: 0o777, linkname: "__init__.py" },
    ],
    c: [file("app/site-packages/c.py", "C = 1\n")],
  };
}

interface Counting {
  recipe: LayerRecipe;
  produced: () => number;
  partsProduced: string[];
}

function recipeOf(parts: Record<string, LayerEntry[]>, tag: string): Counting {
  let produced = 0;
  const partsProduced: string[] = [];
  const recipe: LayerRecipe = {
    target: "svc",
    step: "deps",
    kind: "test-parts",
    version: 1,
    params: { tag },
    trees: {},
    produce: async () => {
      produced++;
      // As installEntries does: one entry per path (a conflict with other bytes is its error).
      return {
        entries: [
          ...new Map(
            Object.values(parts)
              .flat()
              .map((e) => [e.path, e]),
          ).values(),
        ],
      };
    },
    parts: async () =>
      Object.entries(parts).map(
        ([name, entries]): LayerPart => ({
          key: `${name} ${JSON.stringify(entries.map((e) => [e.path, Buffer.from(e.data ?? []).toString("hex")]))}`,
          entries: async () => {
            partsProduced.push(name);
            return entries;
          },
        }),
      ),
  };
  return { recipe, produced: () => produced, partsProduced };
}

async function layerBytes(layer: Layer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await layer.compressed()) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** What GNU tar sees: `path mode` lines (and `-> target` for symlinks) and each file's bytes. */
async function untar(
  t: TestContext,
  blob: Buffer,
): Promise<{ listing: string[]; contents: Map<string, string> }> {
  const dir = await tempDir(t, "tug-parts-untar-");
  await fs.writeFile(join(dir, "layer.tgz"), blob);
  const { stdout } = await exec("tar", ["-tvzf", join(dir, "layer.tgz")]);
  const listing = stdout
    .trim()
    .split("\n")
    .map((l) => {
      const f = l.split(/\s+/);
      return `${f[0]} ${f.slice(5).join(" ")}`;
    });
  await fs.mkdir(join(dir, "x"));
  await exec("tar", ["-xzf", join(dir, "layer.tgz"), "-C", join(dir, "x")]);
  const contents = new Map<string, string>();
  for (const l of listing) {
    const path = l.split(" ")[1]!;
    if (l.startsWith("-")) contents.set(path, await fs.readFile(join(dir, "x", path), "utf8"));
  }
  return { listing, contents };
}

async function openEngine(t: TestContext): Promise<Engine> {
  const engine = await Engine.open({ cacheDir: await tempDir(t, "tug-cache-"), scope: "/tmp" });
  t.after(() => engine.close());
  return engine;
}

test("a layer from cached parts holds the same files as the whole layer; a changed part is the only one produced again", async (t) => {
  const engine = await openEngine(t);
  const parts = wheelFiles("1");
  const first = recipeOf(parts, "one");
  const built = await cachedLayer(engine, first.recipe, gz1);
  assert.equal(first.produced(), 0, "the parts path wrote the layer");
  assert.deepEqual(first.partsProduced.sort(), ["a", "b", "c"]);

  // The reference: the same files written whole (a recipe without parts).
  const whole = await cachedLayer(
    engine,
    { ...first.recipe, params: { tag: "whole" }, parts: undefined },
    gz1,
  );
  const fromParts = await untar(t, await layerBytes(built.layer));
  const reference = await untar(t, await layerBytes(whole.layer));
  assert.deepEqual([...fromParts.listing].sort(), [...reference.listing].sort());
  assert.deepEqual(new Map([...fromParts.contents].sort()), new Map([...reference.contents].sort()));
  assert.equal(
    fromParts.listing.filter((l) => l.endsWith("app/site-packages/ns/")).length,
    1,
    "a directory shared by parts is written once",
  );

  // diff_id is the sha256 of the uncompressed tar, digest of the blob; Python's tarfile reads it.
  const blob = await layerBytes(built.layer);
  const { createHash } = await import("node:crypto");
  assert.equal(
    await built.layer.diffId(),
    `sha256:${createHash("sha256").update(gunzipSync(blob)).digest("hex")}`,
  );
  assert.equal(await built.layer.digest(), `sha256:${createHash("sha256").update(blob).digest("hex")}`);
  const dir = await tempDir(t, "tug-parts-py-");
  await fs.writeFile(join(dir, "l.tgz"), blob);
  const { stdout } = await exec("python3", [
    "-c",
    "import sys, tarfile; t = tarfile.open(sys.argv[1], 'r:gz'); print(len(t.getmembers()))",
    join(dir, "l.tgz"),
  ]);
  assert.equal(Number(stdout), fromParts.listing.length);

  // The recorded file table is what reading the tar gives, so the entrypoint check never reads it.
  const image = {
    layers: async () => [built.layer],
    config: async () => ({ rootfs: { diff_ids: [await built.layer.diffId()] } }),
  } as unknown as Image;
  const { tables, listed } = await imageFileTables(engine, image, "test");
  assert.equal(listed, 0, "the table was recorded when the layer was written");
  const read = await readLayerFileTable(built.layer, "test");
  assert.deepEqual(
    { ...tables[0]!, dirs: [...tables[0]!.dirs].sort() },
    { ...read, dirs: [...read.dirs].sort() },
  );

  // One part changes: only it is produced; the others' bytes come from the cache.
  const second = recipeOf({ ...parts, a: wheelFiles("2").a! }, "two");
  const rebuilt = await cachedLayer(engine, second.recipe, gz1);
  assert.deepEqual(second.partsProduced, ["a"]);
  assert.notEqual(await rebuilt.layer.diffId(), await built.layer.diffId());
  const again = await untar(t, await layerBytes(rebuilt.layer));
  assert.equal(again.contents.get("app/site-packages/ns/a/__init__.py"), 'A = "2"\n');
  assert.equal(again.contents.get("app/site-packages/ns/b/big.bin")?.length, 3 << 20);
});

test("the same parts give the same bytes in a fresh cache, compressed or not", async (t) => {
  for (const compression of [gz1, { kind: "none" } as const]) {
    const digests: string[] = [];
    for (let i = 0; i < 2; i++) {
      const engine = await openEngine(t);
      const built = await cachedLayer(engine, recipeOf(wheelFiles("1"), "same").recipe, compression);
      digests.push(await built.layer.digest());
      if (compression.kind === "none") assert.equal(await built.layer.digest(), await built.layer.diffId());
    }
    assert.equal(digests[0], digests[1]);
  }
});

test("a damaged cached part is noticed, produced again, and the layer is still right", async (t) => {
  const engine = await openEngine(t);
  const first = recipeOf(wheelFiles("1"), "one");
  const built = await cachedLayer(engine, first.recipe, gz1);
  // Damage every cached part blob but the layer's own (same length, other bytes).
  const blobs = join(engine.store.root, "blobs", "sha256");
  const own = (await built.layer.digest()).slice("sha256:".length);
  for (const name of await fs.readdir(blobs)) {
    if (name === own) continue;
    const p = join(blobs, name);
    const bytes = await fs.readFile(p);
    const at = bytes.length >> 1;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
    await fs.writeFile(p, bytes);
  }
  const second = recipeOf({ ...wheelFiles("1"), c: [file("app/site-packages/c.py", "C = 2\n")] }, "two");
  const rebuilt = await cachedLayer(engine, second.recipe, gz1);
  assert.deepEqual(second.partsProduced.sort(), ["a", "b", "c"], "damaged parts were produced again");
  const { contents } = await untar(t, await layerBytes(rebuilt.layer));
  assert.equal(contents.get("app/site-packages/ns/a/__init__.py"), 'A = "1"\n');
  assert.equal(contents.get("app/site-packages/c.py"), "C = 2\n");

  // A part blob removed after its record was read (a concurrent cache gc) is produced again too.
  const own2 = (await rebuilt.layer.digest()).slice("sha256:".length);
  for (const name of await fs.readdir(blobs)) if (name !== own2) await fs.rm(join(blobs, name));
  const third = recipeOf({ ...wheelFiles("1"), c: [file("app/site-packages/c.py", "C = 3\n")] }, "three");
  const again = await untar(t, await layerBytes((await cachedLayer(engine, third.recipe, gz1)).layer));
  assert.deepEqual(third.partsProduced.sort(), ["a", "b", "c"]);
  assert.equal(again.contents.get("app/site-packages/c.py"), "C = 3\n");
});

test("parts that write one path, or a file where another needs a directory, fall back to the whole layer", async (t) => {
  const engine = await openEngine(t);
  const same = recipeOf(
    { a: [file("app/x/__init__.py", "")], b: [file("app/x/__init__.py", ""), file("app/y.py", "")] },
    "dup",
  );
  await cachedLayer(engine, same.recipe, gz1);
  assert.equal(same.produced(), 1, "a path in two parts: the whole layer is written");
  const clash = recipeOf({ a: [file("app/x", "")], b: [file("app/x/y.py", "")] }, "clash");
  await assert.rejects(cachedLayer(engine, clash.recipe, gz1), /app\/x is a file but app\/x\/y.py needs it/);
  assert.equal(clash.produced(), 1);
});
