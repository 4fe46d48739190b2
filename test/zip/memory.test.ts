import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { createZip } from "../../src/zip/zip-writer.ts";
import { tempDir } from "../support/tmp.ts";
import { pyInspect } from "./tools.ts";

const MB = 1024 * 1024;

/** A 300 MB text-like file (compressible, so deflate really runs), written 1 MB at a time. */
async function bigFile(path: string, mb: number): Promise<string> {
  const hash = createHash("sha256");
  const fh = await open(path, "w");
  try {
    for (let i = 0; i < mb; i++) {
      const lines: string[] = [];
      for (let n = 0, len = 0; len < MB; n++) {
        const line = `${i}:${n} the quick brown fox ${(i * 7919 + n * 104729) % 1000003} jumps\n`;
        lines.push(line);
        len += line.length;
      }
      const chunk = Buffer.from(lines.join("")).subarray(0, MB);
      hash.update(chunk);
      await fh.write(chunk);
    }
  } finally {
    await fh.close();
  }
  return hash.digest("hex");
}

test("memory stays flat while a 300 MB file is zipped", async (t) => {
  const dir = await tempDir(t);
  const work = join(dir, "tmp");
  const source = join(dir, "big.log");
  const sha = await bigFile(source, 300);
  await mkdir(work);

  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  try {
    const res = await createZip([{ name: "data/big.log", source }], join(dir, "big.zip"), { tmpDir: work });
    assert.equal(res.unpackedBytes, 300 * MB);
    assert.ok(res.bytes < 150 * MB, `compressed to ${res.bytes}`);
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  // Loose on purpose: the file is 300 MB, so holding it (or its deflated form) would show.
  assert.ok(peak - before < 100 * MB, `RSS grew by ${((peak - before) / MB).toFixed(0)} MB`);
  assert.deepEqual(await readdir(work), [], "the spill file is removed");

  const [info] = await pyInspect(join(dir, "big.zip"));
  assert.equal(info?.sha256, sha);
  assert.equal(info?.compress_type, 8);
});
