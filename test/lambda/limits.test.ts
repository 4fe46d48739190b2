import assert from "node:assert/strict";
import { test } from "node:test";
import { isTugError } from "../../src/errors.ts";
import { checkLimits, LAMBDA_UNZIPPED_LIMIT, LAMBDA_ZIPPED_LIMIT } from "../../src/lambda/limits.ts";
import type { ZipRawEntry } from "../../src/zip/entry.ts";

// Only the recorded sizes matter: no bytes are read.
function entry(name: string, compressedSize: number, uncompressedSize: number): ZipRawEntry {
  return { name, method: 8, crc32: 0, compressedSize, uncompressedSize, raw: () => new Uint8Array() };
}
const MB = 1024 * 1024;
const target = { name: "plot", where: "lambdas.plot (tug.yaml:9)" };

// ZIP overhead per file: local header (30) + central directory header (46) + the name in both;
// 22 for the end-of-central-directory record (APPNOTE 4.3.7, 4.3.12, 4.3.16).
const zipOverhead = (names: string[]) =>
  22 + names.reduce((n, name) => n + 30 + 46 + 2 * Buffer.byteLength(name), 0);

/** Whether checkLimits refuses `parts` for `target`, as a boolean both sides of a boundary can assert. */
function refused(
  t: typeof target & { upload?: "direct" | "s3" },
  parts: Parameters<typeof checkLimits>[1],
): boolean {
  try {
    checkLimits(t, parts);
    return false;
  } catch (e) {
    assert.ok(isTugError(e), String(e));
    return true;
  }
}

test("exactly 250 MB unzipped (sources included) passes; one byte more is refused", () => {
  const parts = (extra: number) => [
    {
      wheel: "numpy-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
      entries: [entry("numpy/core.so", 20 * MB, LAMBDA_UNZIPPED_LIMIT - 100 + extra)],
    },
    { wheel: "first-party sources", entries: [{ name: "plot.py", data: new Uint8Array(100) }] },
  ];
  assert.equal(refused(target, parts(0)), false);
  assert.equal(refused(target, parts(1)), true);
});

test("exactly 50 MB zipped, ZIP headers and names counted, passes a direct upload; one byte more is refused", () => {
  const names = ["big/blob", "plot.py"];
  const compressed = (extra: number) => LAMBDA_ZIPPED_LIMIT - zipOverhead(names) - 10 + extra;
  const parts = (extra: number) => [
    { wheel: "big.whl", entries: [entry("big/blob", compressed(extra), 100 * MB)] },
    // First-party sources are counted at full size (compressed later).
    { wheel: "first-party sources", entries: [{ name: "plot.py", data: new Uint8Array(10) }] },
  ];
  assert.equal(refused(target, parts(0)), false);
  assert.equal(refused(target, parts(1)), true);
});

test("over 250 MB unzipped is refused before writing, naming the biggest contributors first", () => {
  const parts = [
    { wheel: "small-1.0-py3-none-any.whl", entries: [entry("small/a.py", 1 * MB, 2 * MB)] },
    {
      wheel: "torch-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
      entries: [entry("torch/lib.so", 40 * MB, 200 * MB)],
    },
    {
      wheel: "scipy-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
      entries: [entry("scipy/lib.so", 9 * MB, 60 * MB)],
    },
  ];
  assert.throws(
    () => checkLimits(target, parts),
    (e: unknown) => {
      assert.ok(isTugError(e));
      assert.match(e.what, /lambda plot would be 262\.0 MB unzipped \(Lambda allows 250\.0 MB\)/);
      const lines = e.what.split("\n").slice(1);
      assert.match(lines[0] ?? "", /torch-2\.0.*200\.0 MB unzipped/);
      assert.match(lines[1] ?? "", /scipy-1\.0.*60\.0 MB unzipped/);
      assert.equal(e.where, target.where);
      assert.match(e.hint ?? "", /strip/);
      return true;
    },
  );
  assert.equal(LAMBDA_UNZIPPED_LIMIT, 250 * MB);
});

test("over 50 MB zipped is refused too", () => {
  assert.throws(
    () =>
      checkLimits(target, [
        { wheel: "big.whl", entries: [entry("big/blob", LAMBDA_ZIPPED_LIMIT, 100 * MB)] },
      ]),
    /50\.0 MB zipped \(Lambda allows 50\.0 MB for a direct upload\)/,
  );
});

test("50 MB zipped is only the direct-upload limit: the hint names upload: s3, and with s3 only 250 MB unzipped applies", () => {
  const big = [{ wheel: "scipy.whl", entries: [entry("scipy/blob", 80 * MB, 200 * MB)] }];
  assert.throws(
    () => checkLimits(target, big),
    (e: unknown) =>
      isTugError(e) && /upload: direct \| s3/.test(e.hint ?? "") && /upload: s3/.test(e.hint ?? ""),
  );
  const s3 = { ...target, upload: "s3" as const };
  const atUnzippedLimit = (extra: number) => [
    { wheel: "scipy.whl", entries: [entry("scipy/blob", 80 * MB, LAMBDA_UNZIPPED_LIMIT + extra)] },
  ];
  assert.equal(refused(s3, atUnzippedLimit(0)), false, "80 MB zipped through S3 at exactly 250 MB unzipped");
  assert.equal(refused(target, atUnzippedLimit(0)), true, "the same zip uploaded directly");
  assert.equal(refused(s3, atUnzippedLimit(1)), true, "one byte over 250 MB unzipped, even through S3");
  assert.throws(
    () => checkLimits(s3, [{ wheel: "torch.whl", entries: [entry("torch/blob", 80 * MB, 260 * MB)] }]),
    (e: unknown) => isTugError(e) && /260\.0 MB unzipped \(Lambda allows 250\.0 MB\)/.test(e.what),
  );
});
