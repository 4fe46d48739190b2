import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { test } from "node:test";
import { isTugError } from "../../src/errors.ts";
import type { ZipEntry } from "../../src/zip/entry.ts";
import { precompress, rawEntry } from "../../src/zip/entry-cache.ts";
import { createZip } from "../../src/zip/zip-writer.ts";
import { tempDir } from "../support/tmp.ts";
import { pyInspect, pyZipfileTest, unzipExtract, unzipTest } from "./tools.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const text = (s: string) => new TextEncoder().encode(s);

async function fixture(dir: string): Promise<{ entries: ZipEntry[]; contents: Map<string, Buffer> }> {
  const big = Buffer.from("all work and no play makes jack a dull boy\n".repeat(200_000)); // 8.8 MB
  const noise = randomBytes(200_000);
  await writeFile(join(dir, "big.txt"), big);
  await writeFile(join(dir, "noise.bin"), noise);
  const contents = new Map<string, Buffer>([
    ["app/handler.py", Buffer.from("def handler(event, context):\n    return event\n")],
    ["app/run.sh", Buffer.from("#!/bin/sh\necho hi\n")],
    ["app/empty.txt", Buffer.alloc(0)],
    ["données/café ☕.txt", Buffer.from("unicode name\n")],
    ["big.txt", big],
    ["noise.bin", noise],
  ]);
  const entries: ZipEntry[] = [
    { name: "noise.bin", source: join(dir, "noise.bin"), mode: 0o600 },
    { name: "app/run.sh", data: contents.get("app/run.sh")!, mode: 0o700 },
    { name: "app/", dir: true },
    { name: "données/café ☕.txt", data: contents.get("données/café ☕.txt")! },
    { name: "app/handler.py", data: contents.get("app/handler.py")!, mode: 0o664 },
    { name: "big.txt", source: join(dir, "big.txt") },
    { name: "app/empty.txt", data: new Uint8Array() },
  ];
  return { entries, contents };
}

test("a zip Python and unzip read back with identical bytes, modes and fixed timestamps", async (t) => {
  const dir = await tempDir(t);
  const { entries, contents } = await fixture(dir);
  const out = join(dir, "out.zip");
  const res = await createZip(entries, out, { inMemoryLimit: 1 << 20 });
  const bytes = await readFile(out);
  assert.equal(res.bytes, bytes.length);
  assert.equal(res.sha256, sha(bytes));
  assert.equal(res.entries, 7);
  assert.equal(
    res.unpackedBytes,
    [...contents.values()].reduce((n, b) => n + b.length, 0),
  );

  const infos = await pyInspect(out);
  assert.deepEqual(
    infos.map((i) => i.name),
    ["app/", "app/empty.txt", "app/handler.py", "app/run.sh", "big.txt", "données/café ☕.txt", "noise.bin"],
  );
  for (const i of infos) {
    assert.deepEqual(i.date_time, [1980, 1, 1, 0, 0, 0], i.name);
    assert.equal(i.create_system, 3, i.name);
    assert.equal(i.extra, "", i.name);
    assert.equal(i.flag_bits, i.name.startsWith("données") ? 0x800 : 0, i.name);
    if (!i.name.endsWith("/")) assert.equal(i.sha256, sha(contents.get(i.name)!), i.name);
  }
  const mode = (n: string) => infos.find((i) => i.name === n)!.st_mode.toString(8);
  assert.equal(mode("app/"), "40755");
  assert.equal(mode("app/run.sh"), "100755");
  assert.equal(mode("app/handler.py"), "100644");
  assert.equal(mode("noise.bin"), "100644");
  const method = (n: string) => infos.find((i) => i.name === n)!.compress_type;
  assert.equal(method("noise.bin"), 0, "incompressible data is stored");
  assert.equal(method("big.txt"), 8);
  assert.equal(method("app/empty.txt"), 0);

  assert.match(await pyZipfileTest(out), /Done testing/);
  assert.match(await unzipTest(out), /No errors detected/);
  const x = join(dir, "x");
  await unzipExtract(out, x);
  assert.deepEqual(await readFile(join(x, "données/café ☕.txt")), contents.get("données/café ☕.txt"));
  assert.deepEqual(await readFile(join(x, "big.txt")), contents.get("big.txt"));
  assert.equal((await stat(join(x, "app/run.sh"))).mode & 0o777, 0o755);
  assert.equal((await stat(join(x, "app/handler.py"))).mode & 0o777, 0o644);
});

test("the bytes do not depend on how an entry's content is supplied or on the in-memory limit", async (t) => {
  const dir = await tempDir(t);
  const { entries } = await fixture(dir);
  const a = await createZip(entries, join(dir, "a.zip"), { inMemoryLimit: 1 << 10, lookahead: 1 });
  const b = await createZip(entries, join(dir, "b.zip"), { inMemoryLimit: 1 << 30, lookahead: 32 });
  // Every file entry replaced by its pre-compressed record: copied bytes, same zip.
  const cached = await Promise.all(
    entries.map(async (e) => {
      if ("dir" in e || "raw" in e) return e;
      return rawEntry(e.name, e.mode, await precompress("data" in e ? e.data : e.source));
    }),
  );
  const c = await createZip(cached.reverse(), join(dir, "c.zip"));
  assert.equal(a.sha256, b.sha256);
  assert.equal(a.sha256, c.sha256);
});

test("writes to a stream and ends it", async (t) => {
  const dir = await tempDir(t);
  const parts: Buffer[] = [];
  let ended = false;
  const sink = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      setImmediate(cb); // slow sink: backpressure on every write
    },
    final(cb) {
      ended = true;
      cb();
    },
  });
  const res = await createZip([{ name: "a.txt", data: text("hello\n") }], sink);
  assert.ok(ended);
  const bytes = Buffer.concat(parts);
  assert.equal(res.sha256, sha(bytes));
  await writeFile(join(dir, "s.zip"), bytes);
  const [info] = await pyInspect(join(dir, "s.zip"));
  assert.equal(info?.sha256, sha(text("hello\n")));
});

test("refuses unsafe, non-canonical, duplicate and clashing names, leaving no file behind", async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, "bad.zip");
  const bad: ZipEntry[][] = [
    [{ name: "../evil", data: text("x") }],
    [{ name: "/etc/passwd", data: text("x") }],
    [{ name: "a\\b", data: text("x") }],
    [{ name: "a//b", data: text("x") }],
    [{ name: "./a", data: text("x") }],
    [{ name: "C:/a", data: text("x") }],
    [{ name: "dir", dir: true }],
    [{ name: "a/", data: text("x") }],
    [
      { name: "a", data: text("x") },
      { name: "a", data: text("y") },
    ],
    [
      { name: "a", data: text("x") },
      { name: "a/b", data: text("y") },
    ],
  ];
  for (const entries of bad) {
    await assert.rejects(createZip(entries, out), isTugError, JSON.stringify(entries.map((e) => e.name)));
  }
  await assert.rejects(
    createZip(
      [
        { name: "ok", data: text("x") },
        { name: "missing", source: join(dir, "nope") },
      ],
      out,
    ),
    /ENOENT/,
  );
  // A pre-compressed record that lies about its size fails the build, not the zip's readers.
  const lie = { ...rawEntry("x", 0o644, await precompress(text("hello"))), compressedSize: 99 };
  await assert.rejects(createZip([lie], out), isTugError);
  assert.deepEqual(await readdir(dir), []);
});
