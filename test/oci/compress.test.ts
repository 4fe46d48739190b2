import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { test } from "node:test";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { GZIP_CHUNK, ParallelGzip, planMembers } from "../../src/oci/compress.ts";
import { tempDir } from "../support/tmp.ts";

const exec = promisify(execFile);

function text(bytes: number, seed: number): Buffer {
  const words = ["layer", "image", "digest", "manifest", "blob", "tar", "gzip", "\n", "{", "}", String(seed)];
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const w = words[(i * 7 + seed + ((i * i) % 13)) % words.length]!;
    parts.push(w);
    n += w.length + 1;
  }
  return Buffer.from(parts.join(" ")).subarray(0, bytes);
}

/** Feeds `data` in pieces of `piece` bytes and returns the compressed output. */
async function gz(data: Buffer, piece: number, level = 1): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let o = 0; o < data.length; o += piece) chunks.push(data.subarray(o, o + piece));
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks, { objectMode: false }),
    new ParallelGzip({ level }),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

// Text, random bytes and text again, spanning several chunks and not a multiple of the chunk size.
const MIXED = Buffer.concat([text(1_500_000, 1), randomBytes(1_200_000), text(700_001, 2)]);

test("multi-member output gunzips to the input with node and with gunzip(1)", async (t) => {
  const dir = await tempDir(t);
  const out = await gz(MIXED, 65536);
  assert.ok(gunzipSync(out).equals(MIXED));
  const file = join(dir, "x.gz");
  await writeFile(file, out);
  const { stdout } = await exec("gunzip", ["-c", file], { encoding: "buffer", maxBuffer: 1 << 26 });
  assert.ok(stdout.equals(MIXED));
  await exec("gzip", ["-t", file]);
  // More than one member: count gzip headers with our fixed flags (mtime 0, OS unix).
  const members = out.toString("latin1").split("\x1f\x8b\x08\x00\x00\x00\x00\x00").length - 1;
  assert.ok(members >= Math.ceil(MIXED.length / GZIP_CHUNK), `only ${members} members`);
});

test("output depends on the bytes only, not on how they arrive", async () => {
  const a = await gz(MIXED, 1 << 20);
  const b = await gz(MIXED, 4093);
  const c = await gz(MIXED, MIXED.length);
  assert.ok(a.equals(b));
  assert.ok(a.equals(c));
  // Header: magic, deflate, no flags, mtime 0, XFL 4 (fastest), OS 3 (unix).
  assert.deepEqual([...a.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3]);
});

test("empty input is still a valid gzip", async () => {
  const out = await gz(Buffer.alloc(0), 1);
  assert.ok(out.length > 0);
  assert.equal(gunzipSync(out).length, 0);
});

test("incompressible segments are stored, compressible ones deflated", () => {
  const plan = planMembers(Buffer.concat([text(200_000, 3), randomBytes(300_000), text(100_000, 4)]));
  assert.deepEqual(
    plan.map((m) => m.store),
    [false, true, false],
  );
  assert.equal(plan[0]!.start, 0);
  assert.equal(plan[plan.length - 1]!.end, 600_000);
  for (let i = 1; i < plan.length; i++) assert.equal(plan[i]!.start, plan[i - 1]!.end);
});

test("a slow consumer holds the producer back (bounded in flight)", async () => {
  const gzip = new ParallelGzip({ level: 1, inFlight: 2 });
  let written = 0;
  const source = Readable.from(
    (function* () {
      for (let i = 0; i < 64; i++) {
        written += GZIP_CHUNK;
        yield randomBytes(GZIP_CHUNK);
      }
    })(),
    { objectMode: false },
  );
  const done = pipeline(source, gzip);
  // Nobody reads gzip's output: the source must stall far short of its 64 MiB.
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(written <= 16 * GZIP_CHUNK, `producer ran ahead: ${written / GZIP_CHUNK} MiB`);
  gzip.resume();
  await done;
  assert.equal(written, 64 * GZIP_CHUNK);
});
