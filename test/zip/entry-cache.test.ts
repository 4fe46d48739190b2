import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { inflateRawSync } from "node:zlib";
import { crc32, crc32Table } from "../../src/zip/crc32.ts";
import { DEFLATE_VERSION, precompress, precompressSync } from "../../src/zip/entry-cache.ts";
import { tempDir } from "../support/tmp.ts";

test("the table CRC-32 matches the check value and the native one, also incrementally", () => {
  const check = Buffer.from("123456789");
  assert.equal(crc32Table(check), 0xcbf43926); // the standard CRC-32/ISO-HDLC check value
  assert.equal(crc32(check), 0xcbf43926);
  assert.equal(crc32Table(new Uint8Array()), 0);
  const data = randomBytes(100_003);
  const whole = crc32Table(data);
  assert.equal(crc32(data), whole);
  assert.equal(crc32Table(data.subarray(50_000), crc32Table(data.subarray(0, 50_000))), whole);
});

test("precompress deflates what shrinks and stores what does not", async (t) => {
  const text = Buffer.from("import os\n".repeat(1000));
  const p = await precompress(text);
  assert.equal(p.method, 8);
  assert.equal(p.uncompressedSize, text.length);
  assert.equal(p.compressedSize, p.rawBytes.length);
  assert.ok(p.compressedSize < text.length / 10);
  assert.deepEqual(inflateRawSync(p.rawBytes), text);
  assert.equal(p.crc32, crc32Table(text));

  const noise = randomBytes(300_000); // above the sync limit: the async deflate path
  const s = await precompress(noise);
  assert.equal(s.method, 0);
  assert.deepEqual(Buffer.from(s.rawBytes), noise);
  assert.equal(s.compressedSize, noise.length);

  const dir = await tempDir(t);
  await writeFile(join(dir, "f.py"), text);
  assert.deepEqual(await precompress(join(dir, "f.py")), p);
  assert.deepEqual(precompressSync(text), p, "sync and async deflate give the same bytes");
  const big = Buffer.from("abc\n".repeat(100_000));
  assert.deepEqual(precompressSync(big), await precompress(big));
  assert.match(DEFLATE_VERSION, /^zlib-\d/);
});
