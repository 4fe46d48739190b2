// createZip's `reuse`: the leading entries of a previous zip are copied as a block, and the result
// must be byte-for-byte what a fresh write gives, whatever changed and wherever.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import type { ZipEntry } from "../../src/zip/entry.ts";
import { precompressSync, rawEntry } from "../../src/zip/entry-cache.ts";
import { createZip } from "../../src/zip/zip-writer.ts";
import { tempDir } from "../support/tmp.ts";
import { pyZipfileTest, unzipTest } from "./tools.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Raw (pre-compressed) entries like a wheel's, plus in-memory "sources" that go last. */
function entries(sources: Record<string, string>, extraRaw: Record<string, Buffer> = {}): ZipEntry[] {
  const raw: Record<string, Buffer> = {
    "numpy/__init__.py": Buffer.from("from .core import *\n".repeat(50)),
    "numpy/core.py": Buffer.from("x = 1\n".repeat(5000)),
    "numpy/_lib.so": randomBytesSeeded(300_000),
    "numpy-2.0.dist-info/METADATA": Buffer.from("Name: numpy\nVersion: 2.0\n"),
    ...extraRaw,
  };
  return [
    ...Object.entries(raw).map(([name, data]) => rawEntry(name, 0o644, precompressSync(data))),
    ...Object.entries(sources).map(([name, s]) => ({ name, data: Buffer.from(s) })),
  ];
}

// Deterministic "random" bytes, so every call gives the same entry.
function randomBytesSeeded(n: number): Buffer {
  const out = Buffer.alloc(n);
  let x = 2463534242;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const sourcesLast = { group: (e: ZipEntry) => ("data" in e ? 1 : 0) };

test("reusing a previous zip gives the same bytes as a fresh write, and copies the unchanged head", async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, "fn.zip");
  const first = await createZip(
    entries({ "handler.py": "def handler(e, c):\n    return 1\n" }),
    out,
    sourcesLast,
  );
  assert.equal(first.reused, 0);

  const edited = entries({ "handler.py": "def handler(e, c):\n    return 2\n", "util.py": "X = 1\n" });
  const fresh = await createZip(edited, join(dir, "fresh.zip"), sourcesLast);
  const reused = await createZip(edited, out, { ...sourcesLast, reuse: out });
  assert.equal(reused.reused, 4, "the four wheel entries come from the previous zip");
  assert.equal(reused.sha256, fresh.sha256);
  assert.equal(sha(await readFile(out)), fresh.sha256);
  assert.match(await unzipTest(out), /No errors detected/);
  assert.deepEqual(await readFile(out), await readFile(join(dir, "fresh.zip")));
  await pyZipfileTest(out);
  // Sources sort after the wheels' files, each group by name.
  const zip = await readFile(out);
  assert.ok(zip.indexOf("numpy-2.0.dist-info/METADATA") < zip.indexOf("numpy/core.py")); // "-" < "/"
  assert.ok(zip.indexOf("numpy/core.py") < zip.indexOf("handler.py"));
  assert.ok(zip.indexOf("handler.py") < zip.indexOf("util.py"));
});

test("a change in the middle keeps only the entries before it; a damaged or foreign base is not trusted", async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, "fn.zip");
  await createZip(entries({ "h.py": "a\n" }), out, sourcesLast);

  // numpy/_lib.so (third by name) changes: __init__.py and core.py stay, the rest is written.
  const changed = entries({ "h.py": "a\n" }, { "numpy/_lib.so": randomBytes(1000) });
  const fresh = await createZip(changed, join(dir, "fresh.zip"), sourcesLast);
  const partial = await createZip(changed, out, { ...sourcesLast, reuse: out });
  assert.equal(partial.reused, 2);
  assert.equal(partial.sha256, fresh.sha256);
  assert.match(await unzipTest(out), /No errors detected/);
  assert.match(await pyZipfileTest(out), /Done testing/);

  // A base whose central directory does not match what this writer would produce is ignored.
  const bytes = await readFile(out);
  const cdAt = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  bytes[cdAt + 16] = (bytes[cdAt + 16] as number) ^ 0xff; // first entry's CRC in the central directory
  await writeFile(join(dir, "damaged.zip"), bytes);
  const again = await createZip(changed, join(dir, "out2.zip"), {
    ...sourcesLast,
    reuse: join(dir, "damaged.zip"),
  });
  assert.equal(again.reused, 0);
  assert.equal(again.sha256, fresh.sha256);

  await writeFile(join(dir, "not-a-zip"), "hello");
  const none = await createZip(changed, join(dir, "out3.zip"), {
    ...sourcesLast,
    reuse: join(dir, "not-a-zip"),
  });
  assert.equal(none.reused, 0);
  const missing = await createZip(changed, join(dir, "out4.zip"), {
    ...sourcesLast,
    reuse: join(dir, "nope.zip"),
  });
  assert.equal(missing.reused, 0);
  assert.equal(missing.sha256, fresh.sha256);
});

test("a kept head hash (resident process) is continued instead of reading the head again", async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, "fn.zip");
  let boundary: { bytes: number; hash: import("node:crypto").Hash } | undefined;
  await createZip(entries({ "h.py": "v1\n" }), out, {
    ...sourcesLast,
    onGroupBoundary: (at) => {
      boundary = at;
    },
  });
  assert.ok(boundary && boundary.bytes > 0);
  const edited = entries({ "h.py": "v2\n" });
  const fresh = await createZip(edited, join(dir, "fresh.zip"), sourcesLast);
  const kept = await createZip(edited, out, { ...sourcesLast, reuse: out, reuseHash: boundary });
  assert.equal(kept.reused, 4);
  assert.equal(kept.sha256, fresh.sha256);
  assert.equal(sha(await readFile(out)), fresh.sha256);

  // Proof that it is used, not re-derived: a state for other bytes gives another digest.
  const { createHash: hashOf } = await import("node:crypto");
  const wrong = { bytes: boundary.bytes, hash: hashOf("sha256").update("not the head") };
  const trusted = await createZip(edited, join(dir, "wrong.zip"), {
    ...sourcesLast,
    reuse: out,
    reuseHash: wrong,
  });
  assert.notEqual(trusted.sha256, fresh.sha256);
});

test("a previous zip replaced after it was checked is not copied: the zip is written from scratch", async (t) => {
  const { reusableHead } = await import("../../src/zip/zip-reuse.ts");
  const { ZipOutput } = await import("../../src/zip/zip-output.ts");
  const { rename } = await import("node:fs/promises");
  const dir = await tempDir(t);
  const out = join(dir, "fn.zip");
  await createZip(entries({ "h.py": "v1\n" }), out, sourcesLast);
  // In the writer's order: the wheel-like entries by name, then the sources.
  const planned = entries({ "h.py": "v2\n" })
    .map((entry) => ({
      entry,
      name: Buffer.from(entry.name),
      dir: false,
      mode: 0o644,
      group: "data" in entry ? 1 : 0,
    }))
    .sort((a, b) => a.group - b.group || Buffer.compare(a.name, b.name));
  const head = await reusableHead(out, planned);
  assert.ok(head && head.records.length > 0);
  // Another build renames a new zip into place between the check and the copy.
  await createZip(entries({ "h.py": "other\n" }), join(dir, "other.zip"), sourcesLast);
  await rename(join(dir, "other.zip"), out);
  assert.equal(await ZipOutput.resume(join(dir, "next.zip"), head), undefined);
});
