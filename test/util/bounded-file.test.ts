import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { TugError } from "../../src/errors.ts";
import { formatBytes, readBoundedFile } from "../../src/util/bounded-file.ts";
import { tempDir } from "../support/tmp.ts";

test("reads a file up to the bound, exactly at it too", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "f"), "x".repeat(100));
  assert.equal((await readBoundedFile(join(dir, "f"), 100, "a file")).length, 100);
});

test("refuses a bigger file with one clear error naming it and the size", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "pyproject.toml"), Buffer.alloc(3 << 20));
  await assert.rejects(
    readBoundedFile(join(dir, "pyproject.toml"), 1 << 20, "pyproject.toml", { shownPath: "pyproject.toml" }),
    (e: unknown) =>
      e instanceof TugError &&
      e.what === "pyproject.toml is too big (3 MiB, more than the 1 MiB tug reads)" &&
      e.where === "pyproject.toml",
  );
});

test("a device that never ends is bounded too (no size to stat)", async () => {
  await assert.rejects(
    readBoundedFile("/dev/zero", 1000, "requirements file"),
    (e: unknown) =>
      e instanceof TugError && /requirements file is too big \(more than the 1000 bytes/.test(e.what),
  );
});

test("a missing file is the caller's to report", async () => {
  await assert.rejects(readBoundedFile("/nonexistent/tug.yaml", 10, "tug.yaml"), { code: "ENOENT" });
});

test("formatBytes", () => {
  assert.equal(formatBytes(1 << 20), "1 MiB");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(12), "12 bytes");
});
