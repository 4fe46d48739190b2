// openRemoteCache picks the backend from the URL scheme and wires the environment into it.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { isTugError } from "../../src/errors.ts";
import { sha256 } from "../../src/oci/digest.ts";
import { openRemoteCache } from "../../src/remote/open.ts";
import { startNginxDav } from "../support/nginx-dav.ts";
import { startRegistry } from "../support/registry.ts";
import { S3RVER_CREDENTIALS, startS3rver } from "../support/s3rver.ts";
import { skopeoInspectRaw } from "../support/tools.ts";

test("http(s):// is the Bazel HTTP cache, with TUG_REMOTE_CACHE_TOKEN as bearer token", async (t) => {
  const nginx = await startNginxDav(t);
  const cache = await openRemoteCache(`${nginx.url}/team`, {});
  t.after(() => cache.close());
  const body = Buffer.from("hello");
  await cache.putBlob(sha256(body), body.length, async () => Readable.from([body]));
  assert.deepEqual(await cache.hasBlobs([sha256(body)]), new Set([sha256(body)]));
  assert.equal(cache.name, `${nginx.url}/team`);

  const auth: Array<string | undefined> = [];
  const server = createServer((req, res) => {
    auth.push(req.headers.authorization);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as AddressInfo;
  const withToken = await openRemoteCache(`http://127.0.0.1:${port}`, { TUG_REMOTE_CACHE_TOKEN: "t0k" });
  t.after(() => withToken.close());
  assert.equal(await withToken.getRecord("00".repeat(32)), undefined);
  assert.deepEqual(auth, ["Bearer t0k"]);
});

test("s3:// reads its credentials, region and endpoint from the given environment", async (t) => {
  const s3 = await startS3rver(t, { buckets: ["b"] });
  const cache = await openRemoteCache("s3://b/pre", {
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: s3.url,
  });
  t.after(() => cache.close());
  assert.equal(cache.name, "s3://b/pre");
  await cache.putRecord("11".repeat(32), Buffer.from("r"));
  assert.deepEqual(await cache.getRecord("11".repeat(32)), Buffer.from("r"));
});

test("oci:// is the registry backend: records become tagged artifacts skopeo reads, blobs land in the repo", async (t) => {
  const registry = await startRegistry(t);
  const cache = await openRemoteCache(`oci://${registry.repo("team/cache")}`, {});
  t.after(() => cache.close());
  const key = "22".repeat(32);
  await cache.putRecord(key, Buffer.from('{"r":1}'));
  const body = Buffer.from("blob for the oci backend");
  await cache.putBlob(sha256(body), body.length, async () => Readable.from([body]));

  const manifest = await skopeoInspectRaw(`docker://${registry.repo("team/cache")}:ac-${key}`);
  assert.equal((manifest as { artifactType?: string }).artifactType, "application/vnd.tug.action-record.v1");
  const link = join(
    registry.storage,
    "docker/registry/v2/repositories/team/cache/_layers",
    sha256(body).replace(":", "/"),
    "link",
  );
  assert.equal(await readFile(link, "utf8"), sha256(body));
  assert.deepEqual(await cache.getRecord(key), Buffer.from('{"r":1}'));
});

test("oci:// speaks plain HTTP to a non-127.0.0.1 host only when insecureRegistries lists it", async (t) => {
  const registry = await startRegistry(t, { host: "127.0.0.2" });
  const url = `oci://${registry.repo("team/cache")}`;
  const refused = await openRemoteCache(url, {});
  t.after(() => refused.close());
  await assert.rejects(
    refused.putRecord("33".repeat(32), Buffer.from("{}")),
    /TLS handshake with registry 127\.0\.0\.2/,
  );

  const allowed = await openRemoteCache(url, {}, { insecureRegistries: [`127.0.0.2:${registry.port}`] });
  t.after(() => allowed.close());
  await allowed.putRecord("33".repeat(32), Buffer.from("{}"));
  assert.deepEqual(await allowed.getRecord("33".repeat(32)), Buffer.from("{}"));
});

test("an unknown scheme is a TugError with the accepted forms, never echoing credentials", async () => {
  for (const url of ["ftp://user:pw@host/x", "cache.internal:9090", "gs://bucket"]) {
    await assert.rejects(openRemoteCache(url, { TUG_REMOTE_CACHE: url }), (e: unknown) => {
      assert.ok(isTugError(e));
      assert.match(e.what, /unknown remote cache URL/);
      assert.match(e.hint ?? "", /http\(s\):\/\/.*s3:\/\/.*oci:\/\//);
      assert.equal(e.where, "TUG_REMOTE_CACHE");
      assert.doesNotMatch(e.format(), /pw/);
      return true;
    });
  }
});
