// The checks the hostile-registry attacks rely on, one at a time: digest and descriptor parsing,
// rootfs consistency, the retry budget, bounded bodies and tokens, references with credentials,
// and layouts whose index.json or blobs lie.
import assert from "node:assert/strict";
import { mkdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { isTugError } from "../../../src/errors.ts";
import { parseDescriptor, parseDigest } from "../../../src/oci/checked-digest.ts";
import { hexOf } from "../../../src/oci/digest.ts";
import { appendLayers, emptyImage, imageFrom } from "../../../src/oci/image.ts";
import { readLayout, writeLayout } from "../../../src/oci/layout.ts";
import { RegistryClient } from "../../../src/oci/registry/client.ts";
import { RegistryError } from "../../../src/oci/registry/errors.ts";
import { refuseCredentialsInReference } from "../../../src/oci/registry/reference-credentials.ts";
import { withRetry } from "../../../src/oci/registry/retry.ts";
import { checkRootfs } from "../../../src/oci/rootfs-check.ts";
import { isIndex } from "../../../src/oci/types.ts";
import { endless, startHostileServer } from "../../support/hostile-registry-server.ts";
import { layerOf } from "../../support/memory-image.ts";
import { tempDir } from "../../support/tmp.ts";

const HEX = "a".repeat(64);
const amd64 = { os: "linux", architecture: "amd64" };

test("parseDigest: sha256 + 64 lowercase hex only; other algorithms named", () => {
  assert.equal(parseDigest(`sha256:${HEX}`, "x"), `sha256:${HEX}`);
  for (const bad of [
    `sha256:${HEX.toUpperCase()}`,
    "sha256:../../etc/passwd",
    `sha256:${HEX}/..`,
    "",
    42,
    null,
    HEX,
  ]) {
    assert.throws(
      () => parseDigest(bad, "the test"),
      (e) => isTugError(e) && /not a (sha256 )?digest/.test(e.what) && e.where === "the test",
    );
  }
  assert.throws(
    () => parseDigest(`sha512:${"b".repeat(128)}`, "x"),
    (e) => isTugError(e) && /unsupported digest algorithm "sha512"/.test(e.what),
  );
});

test("parseDescriptor: sizes are non-negative safe integers", () => {
  const ok = { mediaType: "m", digest: `sha256:${HEX}`, size: 3 };
  assert.deepEqual(parseDescriptor(ok, "x"), ok);
  for (const size of [-1, 1.5, "3", Number.MAX_SAFE_INTEGER + 2, undefined]) {
    assert.throws(
      () => parseDescriptor({ ...ok, size }, "x"),
      (e) => isTugError(e) && /invalid size/.test(e.what),
    );
  }
  assert.throws(
    () => parseDescriptor({ ...ok, mediaType: 1 }, "x"),
    (e) => isTugError(e) && /no mediaType/.test(e.what),
  );
});

test("checkRootfs: type, count and every diff_id", () => {
  const cfg = (rootfs: unknown) => ({ rootfs });
  assert.deepEqual(checkRootfs(cfg({ type: "layers", diff_ids: [`sha256:${HEX}`] }), 1, "x"), [
    `sha256:${HEX}`,
  ]);
  assert.throws(
    () => checkRootfs(cfg({ type: "layers", diff_ids: [] }), 1, "x"),
    /lists 0 diff_ids for 1 layers/,
  );
  assert.throws(() => checkRootfs(cfg({ type: "other", diff_ids: [] }), 0, "x"), /not "layers"/);
  assert.throws(
    () => checkRootfs(cfg({ type: "layers", diff_ids: ["sha256:../x"] }), 1, "x"),
    /not a sha256 digest/,
  );
  assert.throws(() => checkRootfs(null, 0, "x"), /rootfs\.type is undefined/);
});

test("appendLayers refuses a base whose config and layers disagree", async () => {
  const layer = await layerOf({ a: "a" });
  const base = imageFrom({ config: (await emptyImage(amd64).config()) as never, layers: [] });
  const broken = {
    ...base,
    config: async () => ({
      ...(await base.config()),
      rootfs: { type: "layers" as const, diff_ids: [`sha256:${HEX}` as const] },
    }),
  };
  await assert.rejects(appendLayers(broken, [layer]).manifest(), /lists 1 diff_ids for 0 layers/);
});

test("withRetry stops at its time budget, not only at its count", async () => {
  let calls = 0;
  const failing = async () => {
    calls++;
    throw new RegistryError({ what: "flaky", retryable: true });
  };
  await assert.rejects(
    withRetry(failing, { retries: 50, baseMs: 20, maxMs: 20, random: () => 0.99, budgetMs: 100 }),
    /flaky/,
  );
  assert.ok(calls >= 1 && calls < 10, `${calls} attempts within a 100 ms budget`);
});

test("a token response without end is refused at 1 MiB", async (t) => {
  const tokens = await startHostileServer(t, {}, (_req, res) => {
    endless(res, { "content-type": "application/json" }, Buffer.alloc(64 * 1024, 0x20));
  });
  const reg = await startHostileServer(t, {}, (_req, res) => {
    res.writeHead(401, { "www-authenticate": `Bearer realm="${tokens.url}/token"` }).end();
  });
  const client = new RegistryClient({ credentials: async () => undefined, retry: { retries: 0 } });
  t.after(() => client.close());
  await assert.rejects(
    client.manifest({ registry: reg.host, repository: "x" }, "1"),
    (e) => isTugError(e) && /token response of .* is too large: more than 1 MiB/.test(e.what),
  );
});

test("an endless error body is read only in part; the status still becomes one error", async (t) => {
  const reg400 = await startHostileServer(t, {}, (req, res) => {
    if (req.url === "/v2/") {
      res.writeHead(200).end("{}");
      return;
    }
    res.writeHead(400, { "content-type": "application/json" });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) {}
      if (!res.destroyed) res.once("drain", pump);
    };
    pump();
  });
  const client = new RegistryClient({ credentials: async () => undefined, retry: { retries: 0 } });
  t.after(() => client.close());
  await assert.rejects(
    client.manifest({ registry: reg400.host, repository: "x" }, "1"),
    (e) => isTugError(e) && /answered 400 to fetch manifest x:1/.test(e.what),
  );
});

test("references with credentials are refused with the password hidden", () => {
  for (const ref of ["user:s3cret@registry.example/app:1", "https://user:s3cret@registry.example/app"]) {
    assert.throws(
      () => refuseCredentialsInReference(ref, "base"),
      (e) =>
        isTugError(e) &&
        /carries credentials/.test(e.what) &&
        !e.what.includes("s3cret") &&
        e.what.includes("****"),
    );
  }
  for (const ok of [
    `alpine:3@sha256:${HEX}`,
    `alpine@sha256:${HEX}`,
    "127.0.0.1:5000/app:1",
    `r.example/a@sha256:${HEX}`,
  ]) {
    refuseCredentialsInReference(ok, "base");
  }
});

test("a layout whose index.json names a blob by a path is refused before any file is read", async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  await writeFile(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: "sha256:../../../etc/passwd",
          size: 10,
        },
      ],
    }),
  );
  await assert.rejects(readLayout(dir), (e) => isTugError(e) && /not a sha256 digest/.test(e.what));
});

test("a layout manifest blob claiming more than 4 MiB is refused before it is read", async (t) => {
  const dir = await tempDir(t);
  const layer = await layerOf({ a: "a" });
  const image = appendLayers(emptyImage(amd64), [layer]);
  await writeLayout(dir, image, { tags: ["v1"] });
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as {
    manifests: Array<{ size: number }>;
  };
  index.manifests[0]!.size = 5 * 1024 * 1024;
  await writeFile(join(dir, "index.json"), JSON.stringify(index));
  const artifact = await readLayout(dir, "v1");
  assert.ok(!isIndex(artifact));
  await assert.rejects(artifact.manifest(), (e) => isTugError(e) && /too large: 5 MiB/.test(e.what));
});

test("a layout blob rewritten in place with its old size and mtime is still detected and replaced", async (t) => {
  const dir = await tempDir(t);
  const layer = await layerOf({ "f.txt": "x".repeat(5000) });
  const image = appendLayers(emptyImage(amd64), [layer]);
  await writeLayout(dir, image, { tags: ["v1"] });
  const blob = join(dir, "blobs", "sha256", hexOf(await layer.digest()));
  const before = await stat(blob);
  await writeFile(blob, Buffer.alloc(before.size, 0x42));
  await utimes(blob, before.atime, before.mtime);
  const again = await writeLayout(dir, image, { tags: ["v1"] });
  assert.equal(again.writtenBlobs, 1);
  assert.deepEqual(await readFile(blob), layer.gz);
  // Untouched, the stamps hold: a third write hashes and writes nothing.
  const third = await writeLayout(dir, image, { tags: ["v1"] });
  assert.equal(third.writtenBlobs, 0);
});
