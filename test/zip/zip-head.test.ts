// createZip's `head` (src/zip/zip-head.ts): the leading entries of a previous zip taken as one
// block with their raw central records. The result must be byte for byte what a fresh write of
// all entries gives, read back by Python's zipfile and unzip, and names must still clash.
import assert from "node:assert/strict";
import { createHash, type Hash } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import type { ZipEntry } from "../../src/zip/entry.ts";
import { precompressSync, rawEntry } from "../../src/zip/entry-cache.ts";
import { keptHead } from "../../src/zip/zip-head.ts";
import { createZip } from "../../src/zip/zip-writer.ts";
import { tempDir } from "../support/tmp.ts";
import { pyInspect, pyZipfileTest, unzipTest } from "./tools.ts";

const WHEEL: Record<string, string> = {
  "numpy-2.0.dist-info/METADATA": "Name: numpy\nVersion: 2.0\n",
  "numpy/__init__.py": "from .core import *\n".repeat(50),
  "numpy/core.py": "x = 1\n".repeat(5000),
  "numpy/linalg/__init__.py": "",
  "six.py": "PY3 = True\n",
};

const wheel = (): ZipEntry[] =>
  Object.entries(WHEEL).map(([name, s]) => rawEntry(name, 0o644, precompressSync(Buffer.from(s))));
const sources = (files: Record<string, string>): ZipEntry[] =>
  Object.entries(files).map(([name, s]) => ({ name, data: Buffer.from(s) }));
const sourcesLast = { group: (e: ZipEntry) => ("data" in e ? 1 : 0) };
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function previousZip(dir: string): Promise<string> {
  const out = join(dir, "fn.zip");
  await createZip([...wheel(), ...sources({ "handler.py": "v1\n" })], out, sourcesLast);
  return out;
}

test("a zip that starts with a kept head has the bytes of a fresh write of all its entries", async (t) => {
  const dir = await tempDir(t);
  const out = await previousZip(dir);
  const edited = sources({ "handler.py": "v2\n", "lib/util.py": "X = 1\n" });
  const fresh = await createZip([...wheel(), ...edited], join(dir, "fresh.zip"), sourcesLast);

  const head = await keptHead(out, Object.keys(WHEEL).length);
  assert.ok(head);
  assert.deepEqual(head.names, Object.keys(WHEEL));
  let boundary: { bytes: number; hash: Hash } | undefined;
  try {
    const kept = await createZip(edited, out, {
      ...sourcesLast,
      head,
      onGroupBoundary: (at) => {
        boundary = at;
      },
    });
    assert.equal(kept.reused, 5);
    assert.equal(kept.entries, 7);
    assert.equal(kept.sha256, fresh.sha256);
    assert.equal(kept.bytes, fresh.bytes);
    assert.equal(kept.unpackedBytes, fresh.unpackedBytes);
  } finally {
    await head.close();
  }
  assert.deepEqual(await readFile(out), await readFile(join(dir, "fresh.zip")));
  assert.equal(sha(await readFile(out)), fresh.sha256);
  assert.equal(boundary?.bytes, head.bytes, "the boundary is where the kept block ends");
  // Independent readers: every entry inflates to its bytes.
  assert.match(await unzipTest(out), /No errors detected/);
  await pyZipfileTest(out);
  const read = await pyInspect(out);
  assert.deepEqual(
    read.map((e) => e.name),
    [...Object.keys(WHEEL), "handler.py", "lib/util.py"],
  );

  // A kept hash of the block (a resident process) gives the same digest without reading it.
  const again = await keptHead(out, 5);
  assert.ok(again);
  try {
    const next = sources({ "handler.py": "v3\n" });
    const expected = await createZip([...wheel(), ...next], join(dir, "fresh3.zip"), sourcesLast);
    const continued = await createZip(next, out, { ...sourcesLast, head: again, reuseHash: boundary });
    assert.equal(continued.sha256, expected.sha256);
    assert.equal(sha(await readFile(out)), expected.sha256);
  } finally {
    await again.close();
  }
});

test("a source may not take a kept entry's path, sit inside a kept file, or replace a kept directory", async (t) => {
  const dir = await tempDir(t);
  const out = await previousZip(dir);
  const before = await readFile(out);
  const clashes: Array<[Record<string, string>, RegExp]> = [
    [{ "six.py": "mine\n" }, /six\.py is given twice/],
    [{ "six.py/x.py": "" }, /six\.py\/x\.py is inside six\.py, which is a file/],
    [{ "numpy/linalg": "" }, /numpy\/linalg is a file, and a directory of other entries/],
  ];
  for (const [files, message] of clashes) {
    const head = await keptHead(out, 5);
    assert.ok(head);
    try {
      await assert.rejects(createZip(sources(files), out, { ...sourcesLast, head }), message);
    } finally {
      await head.close();
    }
  }
  assert.deepEqual(await readFile(out), before, "a refused zip leaves the old one in place");
  // Beside the kept ones, new files in a kept directory are fine.
  const head = await keptHead(out, 5);
  assert.ok(head);
  try {
    const ok = await createZip(sources({ "numpy/extra.py": "" }), join(dir, "ok.zip"), {
      ...sourcesLast,
      head,
    });
    assert.equal(ok.entries, 6);
  } finally {
    await head.close();
  }
});

test("a zip replaced after its head was taken is still copied from the file that was read", async (t) => {
  const dir = await tempDir(t);
  const out = await previousZip(dir);
  const head = await keptHead(out, 5);
  assert.ok(head);
  try {
    // Another build renames a zip with other bytes into place between planning and writing.
    await writeFile(join(dir, "other.zip"), Buffer.alloc(head.bytes + 100, 7));
    await rename(join(dir, "other.zip"), out);
    const edited = sources({ "handler.py": "v2\n" });
    const fresh = await createZip([...wheel(), ...edited], join(dir, "fresh.zip"), sourcesLast);
    const next = join(dir, "next.zip");
    const written = await createZip(edited, next, { ...sourcesLast, head });
    assert.equal(written.sha256, fresh.sha256);
    assert.deepEqual(await readFile(next), await readFile(join(dir, "fresh.zip")));
  } finally {
    await head.close();
  }
});

test("a head is only taken from a zip this writer made, with at least that many entries", async (t) => {
  const dir = await tempDir(t);
  const out = await previousZip(dir);
  assert.equal(await keptHead(out, 7), undefined, "the zip has 6 entries");
  assert.equal(await keptHead(out, 0), undefined);
  assert.equal(await keptHead(join(dir, "missing.zip"), 1), undefined);
  // A comment after the end record: not this writer's.
  const bytes = await readFile(out);
  const commented = Buffer.concat([bytes, Buffer.from("note")]);
  commented.writeUInt16LE(4, bytes.length - 2);
  await writeFile(join(dir, "commented.zip"), commented);
  assert.equal(await keptHead(join(dir, "commented.zip"), 1), undefined);
  // A central record with an extra field: not this writer's either.
  const extra = Buffer.from(bytes);
  const cdAt = extra.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  extra.writeUInt16LE(4, cdAt + 30);
  await writeFile(join(dir, "extra.zip"), extra);
  assert.equal(await keptHead(join(dir, "extra.zip"), 1), undefined);
  await writeFile(join(dir, "not-a-zip"), "hello, this is not a zip file at all");
  assert.equal(await keptHead(join(dir, "not-a-zip"), 1), undefined);
});

test("a copy begun while planning is taken over by the writer; one never taken is removed", async (t) => {
  const { readdir } = await import("node:fs/promises");
  const dir = await tempDir(t);
  const out = await previousZip(dir);
  const edited = sources({ "handler.py": "v2\n" });
  const fresh = await createZip([...wheel(), ...edited], join(dir, "fresh.zip"), sourcesLast);
  const head = await keptHead(out, 5);
  assert.ok(head);
  try {
    head.begin(out);
    head.begin(out); // once
    const written = await createZip(edited, out, { ...sourcesLast, head });
    assert.equal(written.sha256, fresh.sha256);
    assert.deepEqual(await readFile(out), await readFile(join(dir, "fresh.zip")));
  } finally {
    await head.close();
  }
  const unused = await keptHead(out, 5);
  assert.ok(unused);
  unused.begin(out);
  await unused.close();
  assert.deepEqual((await readdir(dir)).sort(), ["fn.zip", "fresh.zip"], "no temporary copy is left");
});
