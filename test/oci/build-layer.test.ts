import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { test } from "node:test";
import { createGunzip, gunzipSync } from "node:zlib";
import { buildLayer, recompress } from "../../src/oci/build-layer.ts";
import { sha256 } from "../../src/oci/digest.ts";
import { appendLayers, emptyImage } from "../../src/oci/image.ts";
import { buildMemoryLayer, fileLayer, isCorruptBlob, memoryLayer } from "../../src/oci/layer.ts";
import { writeLayout } from "../../src/oci/layout.ts";
import { tarEntriesFromDir } from "../../src/oci/tar.ts";
import { MediaType } from "../../src/oci/types.ts";
import { tempDir } from "../support/tmp.ts";
import { listTree, runTool, umociUnpack } from "../support/tools.ts";

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function fixture(dir: string): Promise<string> {
  const ctx = join(dir, "ctx");
  await mkdir(join(ctx, "lib"), { recursive: true });
  await writeFile(join(ctx, "lib/big.bin"), randomBytes(3 << 20));
  await writeFile(join(ctx, "lib/text.txt"), "tug ".repeat(500_000));
  await writeFile(join(ctx, "main.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
  return ctx;
}

test("buildLayer gzip: diffId hashes the tar, digest hashes the blob on disk", async (t) => {
  const dir = await tempDir(t);
  const entries = await tarEntriesFromDir(await fixture(dir), "app");
  const out = join(dir, "layer.tgz");
  const res = await buildLayer({ entries, compression: { kind: "gzip", level: 1 }, outFile: out });
  const blob = await readFile(out);
  const tar = gunzipSync(blob);
  assert.equal(res.digest, sha256(blob));
  assert.equal(res.size, blob.length);
  assert.equal(res.diffId, sha256(tar));
  assert.equal(res.diffSize, tar.length);
  assert.equal(res.mediaType, MediaType.ociLayerGzip);
  assert.ok(res.size < res.diffSize);
  // GNU tar (and its gzip) read the multi-member blob: the paths, root ownership, the modes.
  const listing = (await runTool("tar", ["--numeric-owner", "-tzvf", out])).stdout.trim().split("\n");
  const rows = listing.map((l) => {
    const f = l.split(/\s+/);
    return `${f[0]} ${f[1]} ${f.at(-1)}`;
  });
  assert.deepEqual(rows, [
    "drwxr-xr-x 0/0 app/",
    "drwxr-xr-x 0/0 app/lib/",
    "-rw-r--r-- 0/0 app/lib/big.bin",
    "-rw-r--r-- 0/0 app/lib/text.txt",
    "-rwxr-xr-x 0/0 app/main.sh",
  ]);

  const again = await buildLayer({
    entries,
    compression: { kind: "gzip", level: 1 },
    outFile: join(dir, "2.tgz"),
  });
  assert.deepEqual(again, res);
});

test("buildLayer none: digest is the diffId and the media type is the plain tar", async (t) => {
  const dir = await tempDir(t);
  const entries = await tarEntriesFromDir(await fixture(dir), "app");
  const gz = await buildLayer({
    entries,
    compression: { kind: "gzip", level: 1 },
    outFile: join(dir, "a.tgz"),
  });
  const res = await buildLayer({ entries, compression: { kind: "none" }, outFile: join(dir, "a.tar") });
  assert.equal(res.digest, res.diffId);
  assert.equal(res.diffId, gz.diffId);
  assert.equal(res.size, res.diffSize);
  assert.equal(res.mediaType, MediaType.ociLayer);
  assert.equal(sha256(await readFile(join(dir, "a.tar"))), res.digest);
});

test("recompress gives another encoding of the same diffId", async (t) => {
  const dir = await tempDir(t);
  const entries = await tarEntriesFromDir(await fixture(dir), "app");
  const fast = await buildLayer({
    entries,
    compression: { kind: "gzip", level: 1 },
    outFile: join(dir, "1.tgz"),
  });
  const plain = await fileLayer({ path: join(dir, "1.tgz"), ...fast }).uncompressed();
  const best = await recompress(plain, { kind: "gzip", level: 9 }, join(dir, "9.tgz"));
  assert.equal(best.diffId, fast.diffId);
  assert.notEqual(best.digest, fast.digest);
  assert.equal(best.digest, sha256(await readFile(join(dir, "9.tgz"))));
  const raw = await recompress(
    createReadStream(join(dir, "1.tgz")).pipe(createGunzip()),
    { kind: "none" },
    join(dir, "x.tar"),
  );
  assert.equal(raw.digest, fast.diffId);
});

test("fileLayer answers identity without I/O and verifies bytes as it streams", async (t) => {
  const dir = await tempDir(t);
  const entries = await tarEntriesFromDir(await fixture(dir), "app");
  const path = join(dir, "blob");
  const res = await buildLayer({ entries, compression: { kind: "gzip", level: 1 }, outFile: path });

  const missing = fileLayer({ path: join(dir, "nope"), ...res });
  assert.equal(await missing.digest(), res.digest);
  assert.equal(await missing.diffId(), res.diffId);
  assert.equal(await missing.size(), res.size);
  assert.equal(missing.mediaType(), MediaType.ociLayerGzip);
  await assert.rejects(missing.compressed(), (e: unknown) => isCorruptBlob(e) && /is missing/.test(e.what));

  const good = fileLayer({ path, ...res });
  assert.equal(sha256(await readAll(await good.compressed())), res.digest);

  const blob = await readFile(path);
  blob[Math.floor(blob.length / 2)]! ^= 0xff;
  await writeFile(path, blob);
  await assert.rejects(readAll(await good.compressed()), (e: unknown) => {
    assert.ok(isCorruptBlob(e), String(e));
    assert.match(e.what, new RegExp(`cache blob ${res.digest} is corrupt`));
    assert.equal(e.digest, res.digest);
    return true;
  });

  await writeFile(path, Buffer.concat([blob, Buffer.from("x")]));
  await assert.rejects(readAll(await good.compressed()), /is corrupt \(more than the recorded/);
  await writeFile(path, blob.subarray(0, 100));
  await assert.rejects(readAll(await good.compressed()), /is corrupt \(100 bytes/);
});

test("memory layers: built in memory they match the file build", async (t) => {
  const dir = await tempDir(t);
  const entries = [{ path: "etc/motd", type: "file" as const, mode: 0o644, data: Buffer.from("hello\n") }];
  const onDisk = await buildLayer({
    entries,
    compression: { kind: "gzip", level: 1 },
    outFile: join(dir, "m"),
  });
  const mem = await buildMemoryLayer({ entries, compression: { kind: "gzip", level: 1 } });
  assert.equal(await mem.digest(), onDisk.digest);
  assert.equal(await mem.diffId(), onDisk.diffId);
  assert.equal(await mem.size(), onDisk.size);
  const bare = memoryLayer({
    data: await readAll(await mem.compressed()),
    mediaType: MediaType.ociLayerGzip,
  });
  assert.equal(await bare.diffId(), onDisk.diffId);
  assert.equal(sha256(await readAll(await bare.uncompressed())), onDisk.diffId);
});

test("umoci unpacks an image made of a multi-member gzip layer", async (t) => {
  const dir = await tempDir(t);
  const ctx = await fixture(dir);
  const entries = await tarEntriesFromDir(ctx, "app");
  const path = join(dir, "blob.tgz");
  const res = await buildLayer({ entries, compression: { kind: "gzip", level: 1 }, outFile: path });
  assert.ok(res.diffSize > 4 << 20, "layer spans several gzip members");
  const image = appendLayers(emptyImage({ os: "linux", architecture: "amd64" }), [
    fileLayer({ path, ...res }),
  ]);
  const layout = join(dir, "layout");
  await writeLayout(layout, image, { tags: ["t"] });
  const rootfs = await umociUnpack(layout, "t", join(dir, "bundle"));
  assert.deepEqual(await listTree(rootfs), [
    "/app/",
    "/app/lib/",
    "/app/lib/big.bin",
    "/app/lib/text.txt",
    "/app/main.sh",
  ]);
  assert.ok(
    (await readFile(join(rootfs, "app/lib/big.bin"))).equals(await readFile(join(ctx, "lib/big.bin"))),
  );
});
