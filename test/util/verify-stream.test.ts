// The one verifying stream: too many bytes fail at once, a short or different body fails at its
// end (never a clean end of bad content), and without an expected digest it reports the one seen.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { test } from "node:test";
import { type Mismatch, VerifyingStream } from "../../src/util/verify-stream.ts";

const body = Buffer.from("hello, verified world");
const digest = `sha256:${createHash("sha256").update(body).digest("hex")}` as const;

async function run(data: Buffer, opts: Omit<ConstructorParameters<typeof VerifyingStream>[0], "error">) {
  const seen: Mismatch[] = [];
  const v = new VerifyingStream({
    ...opts,
    error: (m) => {
      seen.push(m);
      return new Error(m.kind);
    },
  });
  const out: Buffer[] = [];
  const result = await pipeline(Readable.from([data]), v, async (src: AsyncIterable<Buffer>) => {
    for await (const c of src) out.push(c);
  }).then(
    () => "ok",
    (e: Error) => e.message,
  );
  return { result, seen, v, out: Buffer.concat(out) };
}

test("matching size and digest pass the bytes through", async () => {
  const r = await run(body, { digest, size: body.length });
  assert.equal(r.result, "ok");
  assert.deepEqual(r.out, body);
  assert.equal(r.v.digest(), digest);
});

test("more bytes than the size (or cap) fail before they pass on; short or different bodies fail at the end", async () => {
  assert.equal((await run(body, { digest, size: 4 })).result, "oversize");
  assert.equal((await run(body, { max: 4 })).result, "oversize");
  assert.deepEqual((await run(body.subarray(0, 5), { digest, size: body.length })).seen, [
    { kind: "size", expected: body.length, actual: 5 },
  ]);
  const other = Buffer.from(body);
  other[0] = 0x48;
  const r = await run(other, { digest, size: body.length });
  assert.equal(r.result, "digest");
  assert.equal(r.seen[0]?.kind === "digest" && r.seen[0].expected, digest);
});

test("without an expected digest the stream reports the one it saw", async () => {
  const r = await run(body, { max: 1024 });
  assert.equal(r.result, "ok");
  assert.equal(r.v.digest(), digest);
  assert.equal(r.v.bytes, body.length);
});
