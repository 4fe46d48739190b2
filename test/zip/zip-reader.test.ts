import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { isTugError, TugError } from "../../src/errors.ts";
import { ZipReader } from "../../src/zip/zip-reader.ts";
import { createZip } from "../../src/zip/zip-writer.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";
import { pyInspect, unzipTest } from "./tools.ts";

/** Writes a zip with Python's zipfile: `files` maps names to [content, unix mode]. */
async function pyZip(path: string, files: Record<string, [string, number]>, deflate = true): Promise<void> {
  const script = `
import json, sys, zipfile
path, files, deflate = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as z:
    for name, (content, mode) in files.items():
        i = zipfile.ZipInfo(name, (2001, 2, 3, 4, 5, 6))
        i.external_attr = mode << 16
        i.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
        z.writestr(i, content)
`;
  await runTool("python3", ["-c", script, path, JSON.stringify(files), deflate ? "1" : "0"]);
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

test("lists and inflates a zip written by Python, checking each entry's CRC", async (t) => {
  const dir = await tempDir(t);
  const wheel = join(dir, "pkg-1.0-py3-none-any.whl");
  const init = "print('hello')\n".repeat(100);
  await pyZip(wheel, {
    "pkg/__init__.py": [init, 0o100644],
    "pkg/bin/run": ["#!/bin/sh\n", 0o100755],
    "pkg-1.0.dist-info/METADATA": ["Name: pkg\nVersion: 1.0\n", 0o100644],
  });
  const zip = await ZipReader.open(wheel);
  t.after(() => zip.close());
  assert.deepEqual(
    zip.entries.map((e) => [e.name, e.method, e.mode.toString(8), e.uncompressedSize]),
    [
      ["pkg/__init__.py", 8, "644", init.length],
      ["pkg/bin/run", 8, "755", 10],
      ["pkg-1.0.dist-info/METADATA", 8, "644", 23],
    ],
  );
  assert.equal((await zip.read(zip.entries[0]!)).toString(), init);
});

test("copies another zip's entries byte for byte into a new, valid zip", async (t) => {
  const dir = await tempDir(t);
  const wheel = join(dir, "w.whl");
  const files: Record<string, [string, number]> = {
    "z/last.py": ["z = 26\n".repeat(300), 0o100644],
    "a/first.py": ["a = 1\n".repeat(300), 0o100644],
    "a/tool": ["#!/bin/sh\nexit 0\n", 0o100755],
  };
  await pyZip(wheel, files);
  const src = await ZipReader.open(wheel);
  t.after(() => src.close());
  const out = join(dir, "lambda.zip");
  const entries = [
    ...src.entries.map((e) => src.asRawEntry(e)),
    { name: "handler.py", data: Buffer.from("def handler(e, c):\n    return e\n") },
  ];
  await createZip(entries, out);

  const infos = await pyInspect(out);
  assert.deepEqual(
    infos.map((i) => i.name),
    ["a/first.py", "a/tool", "handler.py", "z/last.py"],
  );
  for (const [name, [content]] of Object.entries(files)) {
    assert.equal(infos.find((i) => i.name === name)?.sha256, sha(Buffer.from(content)), name);
  }
  assert.equal(infos.find((i) => i.name === "a/tool")?.st_mode.toString(8), "100755");
  assert.match(await unzipTest(out), /No errors detected/);

  // The deflate streams are Python's, not re-compressed ones: identical raw bytes in both zips.
  const dst = await ZipReader.open(out);
  t.after(() => dst.close());
  for (const e of src.entries) {
    const copy = dst.entries.find((d) => d.name === e.name)!;
    assert.equal(copy.compressedSize, e.compressedSize);
    assert.deepEqual(await collect(await dst.raw(copy)), await collect(await src.raw(e)), e.name);
  }
});

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
}

test("refuses entries that would escape the extraction root (zip-slip)", async (t) => {
  const dir = await tempDir(t);
  for (const name of ["../evil.py", "pkg/../../evil.py", "/etc/cron.d/x", "C:\\evil", "..\\evil"]) {
    const path = join(dir, "slip.zip");
    await pyZip(path, { "ok.py": ["", 0o100644], [name]: ["x", 0o100644] });
    await assert.rejects(
      ZipReader.open(path),
      (e: unknown) => isTugError(e) && e.what.includes("outside the target directory") && e.where === path,
      name,
    );
  }
  const link = join(dir, "link.zip");
  await pyZip(link, { "pkg/up": ["../../..", 0o120777] });
  await assert.rejects(ZipReader.open(link), /symbolic link/);
});

test("a corrupted entry fails its CRC check instead of yielding wrong bytes", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "c.zip");
  await createZip([{ name: "a.txt", data: Buffer.from("abcdefgh") }], path);
  const bytes = await readFile(path);
  const at = bytes.indexOf("abcdefgh"); // stored: too short to shrink
  assert.ok(at > 0);
  bytes[at] = "X".charCodeAt(0);
  await writeFile(path, bytes);
  const zip = await ZipReader.open(path);
  t.after(() => zip.close());
  await assert.rejects(
    zip.read(zip.entries[0]!),
    (e: unknown) => e instanceof TugError && /CRC/.test(e.what),
  );
  await writeFile(join(dir, "n.zip"), "not a zip");
  await assert.rejects(ZipReader.open(join(dir, "n.zip")), /no end of central directory/);
});
