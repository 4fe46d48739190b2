// The pieces behind hostile-cache.test.ts, one at a time: record signatures, the record size
// bound, record validation (local and remote), and lock checks for the lambda glue.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { CacheStore } from "../../src/engine/cache-store.ts";
import { canonicalJson } from "../../src/engine/key.ts";
import { layerRecordChecks } from "../../src/engine/layer-action.ts";
import { openRecord, sealRecord } from "../../src/engine/record-signature.ts";
import { RemoteSync } from "../../src/engine/remote-sync.ts";
import type { Digest } from "../../src/oci/digest.ts";
import { isSafeLockText } from "../../src/python/shared-lock-check.ts";
import {
  MAX_RECORD_BYTES,
  OversizedRecordError,
  type RemoteCache,
  readRecordBody,
} from "../../src/remote/remote-cache.ts";
import { forgedEnvelope } from "../support/hostile-cache-server.ts";
import { tempDir } from "../support/tmp.ts";

const HEX = "c".repeat(64);

/** A RemoteCache whose records are whatever the test put in `records` (by remote key). */
function fakeRemote(records: Map<string, Buffer | Error>): RemoteCache & { puts: Map<string, Buffer> } {
  const puts = new Map<string, Buffer>();
  return {
    name: "http://fake.test",
    puts,
    hasBlobs: async () => new Set<Digest>(),
    getBlob: async () => undefined,
    putBlob: async () => {},
    async getRecord(key) {
      const r = records.get(key);
      if (r instanceof Error) throw r;
      return r;
    },
    async putRecord(key, body) {
      puts.set(key, body);
    },
    close: async () => {},
  };
}

test("a sealed record opens only with its key and under its own name", () => {
  const envelope = '{"v":1,"kind":"layer","value":{},"check":"x"}';
  const sealed = sealRecord(envelope, HEX, "k1");
  assert.match(sealed, /^tug-hmac-sha256 [0-9a-f]{64}\n\{/);
  assert.ok(!sealed.includes("k1"));
  assert.deepEqual(openRecord(sealed, HEX, "k1"), { ok: true, envelope });
  assert.deepEqual(openRecord(sealed, HEX, "k2"), { ok: false, why: "bad signature" });
  assert.deepEqual(openRecord(sealed, "d".repeat(64), "k1"), { ok: false, why: "bad signature" }, "replayed");
  assert.deepEqual(openRecord(sealed.replace("{}", '{"a":1}'), HEX, "k1"), {
    ok: false,
    why: "bad signature",
  });
  assert.deepEqual(openRecord(envelope, HEX, "k1"), { ok: false, why: "unsigned" });
  // Without a key: as before, and signed records are read too.
  assert.equal(sealRecord(envelope, HEX, undefined), envelope);
  assert.deepEqual(openRecord(sealed, HEX, undefined), { ok: true, envelope });
  assert.deepEqual(openRecord(envelope, HEX, undefined), { ok: true, envelope });
});

test("record bodies stop at 4 MiB, by declared length or by counting", async () => {
  const where = { server: "http://fake.test", key: HEX };
  assert.deepEqual(await readRecordBody(Readable.from([Buffer.from("ok")]), where), Buffer.from("ok"));
  const endless = () =>
    Readable.from(
      (function* () {
        for (;;) yield Buffer.alloc(64 * 1024);
      })(),
    );
  await assert.rejects(readRecordBody(endless(), where), OversizedRecordError);
  await assert.rejects(
    readRecordBody(Readable.from([Buffer.from("{}")]), {
      ...where,
      contentLength: String(MAX_RECORD_BYTES + 1),
    }),
    OversizedRecordError,
  );
});

test("layer records: every digest sha256 + 64 hex, sizes byte counts", () => {
  const { isLayerRecord, isDescriptorRecord, isDiffRecord } = layerRecordChecks;
  const desc = {
    digest: `sha256:${HEX}`,
    size: 10,
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
  };
  assert.ok(isLayerRecord({ diffId: `sha256:${HEX}` }));
  assert.ok(isDescriptorRecord(desc));
  assert.ok(isDiffRecord({ ...desc, diffId: `sha256:${HEX}` }));
  for (const bad of [
    "sha256:../../../CANARY",
    `sha256:${"c".repeat(63)}`,
    `sha256:${"C".repeat(64)}`,
    HEX,
    5,
  ]) {
    assert.ok(!isLayerRecord({ diffId: bad }), String(bad));
    assert.ok(!isDescriptorRecord({ ...desc, digest: bad }), String(bad));
  }
  for (const size of [-1, 1.5, "10", Number.MAX_SAFE_INTEGER + 2])
    assert.ok(!isDescriptorRecord({ ...desc, size }));
  assert.ok(!isDescriptorRecord({ ...desc, mediaType: "../x" }));
});

test("a local record naming a bad digest is a miss and is deleted", async (t) => {
  const store = new CacheStore(await tempDir(t, "tug-store-"));
  await store.putRecord("layer", "k", { diffId: "sha256:../../../CANARY" });
  assert.equal(await store.getRecord("layer", "k", layerRecordChecks.isLayerRecord), undefined);
  assert.equal(store.stats.dropped, 1);
  assert.throws(() => store.blobPath("sha256:../../../CANARY" as Digest), /internal: not a sha256/);
});

test("remote records: bad ones are misses with one warning per reason, the remote stays in use", async (t) => {
  const root = await tempDir(t, "tug-store-");
  const records = new Map<string, Buffer | Error>();
  const rk = (kind: string, key: string) => RemoteSync.recordKey(kind, key);
  const forged = forgedEnvelope("layer", { diffId: "sha256:../../../CANARY" }, canonicalJson);
  records.set(rk("layer", "bad1"), forged);
  records.set(rk("layer", "bad2"), forged);
  records.set(rk("layer", "huge"), new OversizedRecordError("http://fake.test", HEX, MAX_RECORD_BYTES + 1));
  records.set(rk("layer", "good"), forgedEnvelope("layer", { diffId: `sha256:${HEX}` }, canonicalJson));
  const warnings: string[] = [];
  const store = new CacheStore(root);
  store.remote = new RemoteSync(fakeRemote(records), "read", (m) => warnings.push(m), { deadlineMs: 5000 });
  const check = layerRecordChecks.isLayerRecord;
  assert.equal(await store.getRecord("layer", "bad1", check), undefined);
  assert.equal(await store.getRecord("layer", "bad2", check), undefined);
  assert.equal(await store.getRecord("layer", "huge", check), undefined);
  assert.deepEqual(await store.getRecord("layer", "good", check), { diffId: `sha256:${HEX}` });
  assert.equal(warnings.length, 2, warnings.join("\n"));
  assert.match(warnings[0] ?? "", /invalid digest/);
  assert.match(warnings[1] ?? "", /larger than any record/);
  // A forged record never reaches the local store.
  const files = await fs.readdir(join(root, "ac", "layer"), { recursive: true });
  assert.equal(files.filter((f) => f.endsWith(".json")).length, 1);
});

test("with a signing key: unsigned and badly signed records are one warning per build; writes are signed", async (t) => {
  const records = new Map<string, Buffer | Error>();
  const rk = (key: string) => RemoteSync.recordKey("layer", key);
  const good = forgedEnvelope("layer", { diffId: `sha256:${HEX}` }, canonicalJson).toString();
  records.set(rk("plain"), Buffer.from(good));
  records.set(rk("other-key"), Buffer.from(sealRecord(good, rk("other-key"), "not-ours")));
  records.set(rk("signed"), Buffer.from(sealRecord(good, rk("signed"), "ours")));
  const remote = fakeRemote(records);
  const warnings: string[] = [];
  const store = new CacheStore(await tempDir(t, "tug-store-"));
  store.remote = new RemoteSync(remote, "readwrite", (m) => warnings.push(m), {
    signingKey: "ours",
    deadlineMs: 5000,
  });
  const check = layerRecordChecks.isLayerRecord;
  assert.equal(await store.getRecord("layer", "plain", check), undefined);
  assert.equal(await store.getRecord("layer", "other-key", check), undefined);
  assert.deepEqual(await store.getRecord("layer", "signed", check), { diffId: `sha256:${HEX}` });
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.ok(!warnings[0]?.includes("ours"), "the key is never printed");
  await store.putRecord("layer", "new", { diffId: `sha256:${HEX}` });
  await store.remote.flush(5000);
  const put = remote.puts.get(rk("new"))?.toString() ?? "";
  assert.ok(openRecord(put, rk("new"), "ours").ok, put);
});

test("a remote record that never arrives fails within the deadline, once, and the build goes on", async (t) => {
  const remote = fakeRemote(new Map());
  remote.getRecord = () => new Promise(() => {});
  const warnings: string[] = [];
  const store = new CacheStore(await tempDir(t, "tug-store-"));
  store.remote = new RemoteSync(remote, "read", (m) => warnings.push(m), { deadlineMs: 50 });
  assert.equal(await store.getRecord("layer", "a"), undefined);
  assert.equal(await store.getRecord("layer", "b"), undefined);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? "", /http:\/\/fake\.test.*longer than 50 ms/);
});

test("shared locks name wheels by plain file name, 64-hex sha256 and an http(s) URL", () => {
  const lock = (d: Record<string, unknown>) =>
    JSON.stringify({
      version: 1,
      distributions: [
        { name: "a", version: "1", wheel: "a-1-py3-none-any.whl", sha256: HEX, url: "https://i/a.whl", ...d },
      ],
    });
  assert.ok(isSafeLockText(lock({}), true));
  assert.ok(!isSafeLockText(lock({ sha256: "../../x" }), true));
  assert.ok(!isSafeLockText(lock({ sha256: HEX.slice(1) }), true));
  assert.ok(!isSafeLockText(lock({ wheel: "../../../.bashrc.whl" }), true));
  assert.ok(!isSafeLockText(lock({ wheel: "x/a-1-py3-none-any.whl" }), true));
  assert.ok(!isSafeLockText(lock({ url: "file:///home/me/.ssh/id_rsa" }), true));
  assert.ok(
    isSafeLockText(lock({ url: "file:///srv/wheels/a.whl" }), false),
    "a local lock of a file: index",
  );
  assert.ok(!isSafeLockText("{", true));
  assert.ok(!isSafeLockText({ distributions: [] }, true));
});
