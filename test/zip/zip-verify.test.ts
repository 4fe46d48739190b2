// verifyZipEntries against zips written by Python's zipfile, then tampered with byte by byte.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { isTugError } from "../../src/errors.ts";
import { ZipReader } from "../../src/zip/zip-reader.ts";
import { verifyZipEntries } from "../../src/zip/zip-verify.ts";
import {
  type Field,
  getField,
  overlappingZip,
  pythonZip,
  renameLocal,
  setEntryCount,
  setField,
} from "../support/hostile-wheels.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";

const FILES = {
  "pkg/__init__.py": "VERSION = '1.0'\n",
  "pkg/data.py": `TABLE = [\n${"    'row',\n".repeat(2000)}]\n`,
  "pkg/blob.bin": "stored bytes\n".repeat(10),
  "pkg/last.py": "LAST = True\n",
};

async function honestZip(t: TestContext): Promise<string> {
  const path = join(await tempDir(t), "pkg.zip");
  await pythonZip(path, FILES, ["pkg/blob.bin"]);
  return path;
}

/** Verifies `path`; returns the error's message (or undefined when it passed). */
async function verdict(path: string): Promise<string | undefined> {
  let reader: ZipReader;
  try {
    reader = await ZipReader.open(path);
  } catch (err) {
    assert.ok(isTugError(err), String(err));
    return err.what;
  }
  try {
    await verifyZipEntries(reader, { label: "wheel pkg-1.0-py3-none-any.whl" });
    return undefined;
  } catch (err) {
    assert.ok(isTugError(err), String(err));
    return err.what;
  } finally {
    await reader.close();
  }
}

async function tampered(t: TestContext, edit: (zip: Buffer) => void): Promise<string> {
  const path = await honestZip(t);
  const zip = await readFile(path);
  edit(zip);
  await writeFile(path, zip);
  return path;
}

test("an honest zip passes, and each offset is where the entry's bytes start", async (t) => {
  const path = await honestZip(t);
  const reader = await ZipReader.open(path);
  t.after(() => reader.close());
  const offsets = await verifyZipEntries(reader);
  assert.equal(offsets.size, reader.entries.length);
  for (const e of reader.entries) assert.equal(offsets.get(e), await reader.dataOffset(e));
});

test("a zip written to a pipe (data descriptors, zero local sizes) passes", async (t) => {
  const path = join(await tempDir(t), "piped.zip");
  const script = `
import sys, zipfile
with zipfile.ZipFile(sys.stdout.buffer, "w", zipfile.ZIP_DEFLATED) as z:
    with z.open("pkg/streamed.py", "w") as f:
        f.write(b"x = 1\\n" * 5000)
    z.writestr("pkg/small.py", "y = 2\\n")
`;
  await runTool("sh", ["-c", `python3 -c '${script}' | cat > '${path}'`]);
  const zip = await readFile(path);
  assert.ok(getField(zip, "pkg/streamed.py", "flags") & 8, "the writer used a data descriptor");
  assert.equal(await verdict(path), undefined);
});

const lies: Array<[string, (zip: Buffer) => void, RegExp]> = [
  [
    "a wrong CRC in both headers",
    (z) => setField(z, "pkg/data.py", "crc32", getField(z, "pkg/data.py", "crc32") ^ 1),
    /entry pkg\/data\.py has CRC-32 [0-9a-f]{8} but declares/,
  ],
  [
    "a wrong CRC in the central directory only",
    (z) => setField(z, "pkg/data.py", "crc32", 0x12345678, "central"),
    /entry pkg\/data\.py declares CRC-32 \d+ in its local header but 305419896 in the central directory/,
  ],
  [
    "a wrong CRC in the local header only",
    (z) => setField(z, "pkg/last.py", "crc32", 0x12345678, "local"),
    /entry pkg\/last\.py declares CRC-32 305419896 in its local header/,
  ],
  [
    "a declared size smaller than the data (a bomb that lies)",
    (z) => setField(z, "pkg/data.py", "uncompressedSize", 10),
    /entry pkg\/data\.py inflates to more than its declared size/,
  ],
  [
    "a declared size larger than the data",
    (z) => setField(z, "pkg/data.py", "uncompressedSize", getField(z, "pkg/data.py", "uncompressedSize") + 5),
    /entry pkg\/data\.py declares \d+ bytes but holds \d+/,
  ],
  [
    "a compressed size smaller than the deflate stream",
    (z) => setField(z, "pkg/data.py", "compressedSize", getField(z, "pkg/data.py", "compressedSize") - 4),
    /entry pkg\/data\.py has a deflate stream cut short/,
  ],
  [
    "a compressed size larger than the deflate stream (into the next entry)",
    (z) => setField(z, "pkg/data.py", "compressedSize", getField(z, "pkg/data.py", "compressedSize") + 40),
    /overlaps entry pkg\/data\.py|entry pkg\/data\.py declares \d+ compressed bytes but its deflate stream ends/,
  ],
  [
    "a stored entry whose sizes disagree",
    (z) => setField(z, "pkg/blob.bin", "uncompressedSize", 3),
    /entry pkg\/blob\.bin is stored but declares 130 bytes stored and 3 uncompressed/,
  ],
  [
    "a local header name unlike the central one",
    (z) => renameLocal(z, "pkg/last.py", "X"),
    /entry pkg\/last\.py is named "Xkg\/last\.py" in its local header/,
  ],
  [
    "an unsupported compression method",
    (z) => setField(z, "pkg/last.py", "method", 12),
    /entry pkg\/last\.py uses compression method 12; only stored \(0\) and deflate \(8\)/,
  ],
  [
    "methods that disagree",
    (z) => setField(z, "pkg/last.py", "method", 0, "local"),
    /entry pkg\/last\.py has method 0 in its local header but 8 in the central directory/,
  ],
  [
    "an encrypted entry",
    (z) => setField(z, "pkg/last.py", "flags", getField(z, "pkg/last.py", "flags") | 1),
    /entry pkg\/last\.py is encrypted/,
  ],
  ["an absurd entry count", (z) => setEntryCount(z, 65535), /the end record claims 65535 entries/],
];

for (const [what, edit, message] of lies) {
  test(`refuses ${what}, naming the zip and the entry`, async (t) => {
    const why = await verdict(await tampered(t, edit));
    assert.ok(why, "verification passed");
    assert.match(why, message);
  });
}

test("refuses two entries whose bytes overlap, though each is honest alone", async (t) => {
  const path = join(await tempDir(t), "overlap.zip");
  await overlappingZip(path, "pkg/outer.bin", "pkg/inner.py", "inner = 1\n".repeat(50), {
    "pkg/__init__.py": "",
  });
  const why = await verdict(path);
  assert.match(why ?? "", /entry pkg\/inner\.py overlaps entry pkg\/outer\.bin/);
});

const big: Array<[string, Field, (size: number) => number, RegExp]> = [
  [
    "more than it declares",
    "uncompressedSize",
    () => 17 << 20,
    /inflates to more than its declared 17825792 bytes/,
  ],
  ["less than it declares", "uncompressedSize", (n) => n + 1, /declares 20971521 bytes but holds 20971520/],
];

for (const [what, field, value, message] of big) {
  test(`a large entry (streamed, not held in memory) that inflates to ${what} is refused`, async (t) => {
    const path = join(await tempDir(t), "big.zip");
    // 20 MiB of one byte: a few KiB compressed, over the one-shot limit uncompressed.
    await pythonZip(path, { "pkg/zeros.bin": "\0".repeat(20 << 20), "pkg/x.py": "x = 1\n" });
    const zip = await readFile(path);
    setField(zip, "pkg/zeros.bin", field, value(getField(zip, "pkg/zeros.bin", field)));
    await writeFile(path, zip);
    assert.match((await verdict(path)) ?? "", message);
  });
}

test("a large honest entry, stored or deflated, streams through and passes", async (t) => {
  const path = join(await tempDir(t), "big.zip");
  const noise = randomBytes(3 << 20).toString("latin1");
  await pythonZip(
    path,
    { "pkg/noise.bin": noise, "pkg/noise.z": noise, "pkg/zeros.bin": "\0".repeat(20 << 20) },
    ["pkg/noise.bin"],
  );
  assert.equal(await verdict(path), undefined);
  const zip = await readFile(path);
  setField(zip, "pkg/noise.bin", "crc32", getField(zip, "pkg/noise.bin", "crc32") ^ 0x100);
  await writeFile(path, zip);
  assert.match((await verdict(path)) ?? "", /entry pkg\/noise\.bin has CRC-32/);
});

test("a ZIP64 zip (sizes in the extra fields of both headers) passes, as does Python's reading of it", async (t) => {
  const { createZip } = await import("../../src/zip/zip-writer.ts");
  const path = join(await tempDir(t), "z64.zip");
  const data = Buffer.from("zip64 ".repeat(5000));
  await createZip(
    [
      { name: "pkg/a.py", data },
      { name: "pkg/b.txt", data: Buffer.from("b\n") },
    ],
    path,
    { zip64: "always" },
  );
  const zip = await readFile(path);
  // pkg/a.py's local header is the first thing in the file (its central offset is in ZIP64 too).
  assert.equal(zip.readUInt32LE(18), 0xffffffff, "the local header defers to its ZIP64 extra");
  assert.equal(await verdict(path), undefined);
  await runTool("python3", [
    "-c",
    "import sys, zipfile; assert zipfile.ZipFile(sys.argv[1]).testzip() is None",
    path,
  ]);
});
