import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import type { ZipEntry } from "../../src/zip/entry.ts";
import { precompressSync, rawEntry } from "../../src/zip/entry-cache.ts";
import { SIG_EOCD, SIG_ZIP64_EOCD, SIG_ZIP64_LOCATOR } from "../../src/zip/zip-format.ts";
import { ZipReader } from "../../src/zip/zip-reader.ts";
import { createZip } from "../../src/zip/zip-writer.ts";
import { tempDir } from "../support/tmp.ts";
import { pyInspect, unzipTest } from "./tools.ts";

async function tail(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.alloc(n);
    await fh.read(buf, 0, n, size - n);
    return buf;
  } finally {
    await fh.close();
  }
}

test("more than 65535 entries get ZIP64 end records that Python, unzip and the reader accept", async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, "many.zip");
  const N = 70_000;
  // Pre-compressed entries keep this about the central directory, not about deflate speed.
  const records = Array.from({ length: 1000 }, (_, i) => precompressSync(Buffer.from(`${i}\n`)));
  async function* entries(): AsyncGenerator<ZipEntry> {
    for (let i = N - 1; i >= 0; i--) {
      const name = `d${String(i % 100).padStart(2, "0")}/f${String(i).padStart(5, "0")}.txt`;
      yield rawEntry(name, 0o644, records[i % 1000]!);
    }
  }
  const res = await createZip(entries(), out);
  assert.equal(res.entries, N);

  const end = await tail(out, 22 + 20 + 56);
  assert.equal(end.readUInt32LE(0), SIG_ZIP64_EOCD);
  assert.equal(end.readUInt32LE(56), SIG_ZIP64_LOCATOR);
  assert.equal(end.readUInt32LE(76), SIG_EOCD);
  assert.equal(end.readUInt16LE(76 + 10), 0xffff, "the 16-bit count says 'see ZIP64'");
  assert.equal(Number(end.readBigUInt64LE(32)), N);

  const infos = await pyInspect(out, false);
  assert.equal(infos.length, N);
  assert.equal(infos[0]?.name, "d00/f00000.txt");
  assert.equal(infos[N - 1]?.name, "d99/f69999.txt");
  assert.match(await unzipTest(out), /No errors detected/);

  const zip = await ZipReader.open(out);
  t.after(() => zip.close());
  assert.equal(zip.entries.length, N);
  const last = zip.entries.find((e) => e.name === "d99/f69999.txt")!;
  assert.equal((await zip.read(last)).toString(), "999\n");
});

test('zip64: "always" writes ZIP64 extras for sizes and offsets, and readers follow them', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, "z64.zip");
  const data = Buffer.from("zip64 ".repeat(5000));
  const entries: ZipEntry[] = [
    { name: "a.txt", data },
    { name: "b/", dir: true },
    { name: "b/c.bin", data: Buffer.from([0, 1, 2, 3]) },
  ];
  await createZip(entries, out, { zip64: "always" });
  const infos = await pyInspect(out);
  const sha = createHash("sha256").update(data).digest("hex");
  assert.equal(infos.find((i) => i.name === "a.txt")?.sha256, sha);
  for (const i of infos) {
    assert.equal(i.extract_version, 45, i.name);
    // tag 0x0001, 24 bytes: uncompressed size, compressed size, local header offset
    assert.match(i.extra, /^01001800/, i.name);
  }
  assert.match(await unzipTest(out), /No errors detected/);
  const zip = await ZipReader.open(out);
  t.after(() => zip.close());
  assert.deepEqual(
    zip.entries.map((e) => [e.name, e.uncompressedSize, e.localHeaderOffset]),
    infos.map((i) => [i.name, i.file_size, i.header_offset]),
  );
  assert.deepEqual(await zip.read(zip.entries[0]!), data);
});
