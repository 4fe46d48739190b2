// The S3 backend against s3rver (a real S3-compatible server), behind a proxy that verifies every
// SigV4 signature and payload hash the way S3 does (s3rver itself skips V4 verification).
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { get } from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import { type TestContext, test } from "node:test";
import { isTugError } from "../../src/errors.ts";
import { type Digest, hexOf, sha256 } from "../../src/oci/digest.ts";
import { resolveAwsCredentials } from "../../src/remote/aws-credentials.ts";
import { parseS3Url, s3Addressing, s3RemoteCache } from "../../src/remote/s3-cache.ts";
import { S3RVER_CREDENTIALS, startS3rver } from "../support/s3rver.ts";
import { startSigV4Verifier } from "../support/sigv4-verifier.ts";
import { tempDir } from "../support/tmp.ts";

const KEY = "cd".repeat(32);

function blob(text: string): { digest: Digest; body: Buffer } {
  const body = Buffer.from(text);
  return { digest: sha256(body), body };
}

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** An unsigned GET straight to s3rver: a second client reading what tug wrote. */
function rawGet(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      readAll(res).then((body) => resolve({ status: res.statusCode ?? 0, body }), reject);
    }).on("error", reject);
  });
}

async function s3(t: TestContext, buckets = ["tug-cache"]) {
  const server = await startS3rver(t, { buckets });
  const verifier = await startSigV4Verifier(t, { upstream: server.url, credentials: S3RVER_CREDENTIALS });
  return { server, verifier };
}

test("blobs and records round-trip through s3rver, every request validly signed", async (t) => {
  const { server, verifier } = await s3(t);
  const cache = await s3RemoteCache("s3://tug-cache/ci/main/", {
    endpoint: verifier.url,
    credentials: S3RVER_CREDENTIALS,
    env: {},
  });
  t.after(() => cache.close());
  assert.equal(cache.name, "s3://tug-cache/ci/main");
  const a = blob("layer a");
  const b = blob("layer b ".repeat(200_000));
  const missing = blob("missing");

  assert.equal(await cache.getBlob(missing.digest), undefined);
  assert.equal(await cache.getRecord(KEY), undefined);
  assert.deepEqual(await cache.hasBlobs([a.digest, missing.digest]), new Set());

  await cache.putBlob(a.digest, a.body.length, async () => Readable.from([a.body]));
  await cache.putBlob(b.digest, b.body.length, async () =>
    Readable.from([b.body.subarray(0, 7), b.body.subarray(7)]),
  );
  await cache.putRecord(KEY, Buffer.from('{"v":1}'));
  await cache.putBlob(a.digest, a.body.length, async () => assert.fail("opened a blob the server has"));

  assert.deepEqual(await cache.hasBlobs([a.digest, b.digest, missing.digest]), new Set([a.digest, b.digest]));
  const got = await cache.getBlob(b.digest);
  assert.ok(got);
  assert.deepEqual(await readAll(got), b.body);
  assert.deepEqual(await cache.getRecord(KEY), Buffer.from('{"v":1}'));

  // Where the objects are, read back by another client.
  const direct = await rawGet(`${server.url}/tug-cache/ci/main/cas/${hexOf(a.digest)}`);
  assert.equal(direct.status, 200);
  assert.deepEqual(direct.body, a.body);
  assert.equal((await rawGet(`${server.url}/tug-cache/ci/main/ac/${KEY}`)).body.toString(), '{"v":1}');

  assert.ok(verifier.requests.length > 0);
  assert.deepEqual(
    verifier.requests.filter((r) => r.rejected),
    [],
  );
});

test("hasBlobs: a listing for many digests, HEADs for few; pages stop at the HEADs they replace", async (t) => {
  const { verifier } = await s3(t);
  const opts = { endpoint: verifier.url, credentials: S3RVER_CREDENTIALS, env: {} };
  const writer = await s3RemoteCache("s3://tug-cache/p", opts);
  t.after(() => writer.close());
  const stored = Array.from({ length: 24 }, (_, i) => blob(`stored ${i}`));
  await Promise.all(
    stored.map((s) => writer.putBlob(s.digest, s.body.length, async () => Readable.from([s.body]))),
  );
  // Records and other prefixes share the bucket; the listing must not mistake them for blobs.
  await writer.putRecord(hexOf(stored[0]!.digest), Buffer.from("not a blob"));
  const other = await s3RemoteCache("s3://tug-cache/p2", opts);
  t.after(() => other.close());
  const foreign = blob("in another prefix");
  await other.putBlob(foreign.digest, foreign.body.length, async () => Readable.from([foreign.body]));

  const absent = Array.from({ length: 6 }, (_, i) => blob(`absent ${i}`).digest);
  const wanted = [...stored.slice(0, 10).map((s) => s.digest), ...absent, foreign.digest];
  const expected = new Set(stored.slice(0, 10).map((s) => s.digest));

  const reset = () => verifier.requests.splice(0);
  const lists = () => verifier.requests.filter((r) => r.url.includes("list-type=2"));
  const heads = () => verifier.requests.filter((r) => r.method === "HEAD");

  reset();
  const reader = await s3RemoteCache("s3://tug-cache/p", opts);
  t.after(() => reader.close());
  assert.deepEqual(await reader.hasBlobs(wanted), expected);
  assert.equal(lists().length, 1);
  assert.equal(heads().length, 0);
  assert.match(lists()[0]?.url ?? "", /prefix=p%2Fcas%2F/);

  reset();
  assert.deepEqual(
    await reader.hasBlobs(wanted.slice(0, 7)),
    new Set(wanted.slice(0, 7).filter((d) => expected.has(d))),
  );
  assert.equal(lists().length, 0);
  assert.equal(heads().length, 7);

  // Pages of 3 keys: 17 digests allow max(2, ceil(17/8)) = 3 pages, then HEADs for what is left.
  reset();
  const paged = await s3RemoteCache("s3://tug-cache/p", { ...opts, listPageSize: 3 });
  t.after(() => paged.close());
  assert.deepEqual(await paged.hasBlobs(wanted), expected);
  assert.equal(lists().length, 3);
  assert.ok(heads().length > 0 && heads().length < wanted.length, `HEADs: ${heads().length}`);
  assert.ok(lists()[1]?.url.includes("continuation-token="));

  // Pages large enough: the listing ends by itself.
  reset();
  const paged10 = await s3RemoteCache("s3://tug-cache/p", { ...opts, listPageSize: 10 });
  t.after(() => paged10.close());
  assert.deepEqual(await paged10.hasBlobs(wanted), expected);
  assert.equal(heads().length, 0);
  assert.ok(lists().length >= 2 && lists().length <= 3);
  assert.deepEqual(
    verifier.requests.filter((r) => r.rejected),
    [],
  );
});

test("the payload hash is the digest: a body that does not match it is refused, not stored", async (t) => {
  const { server, verifier } = await s3(t);
  const cache = await s3RemoteCache("s3://tug-cache", {
    endpoint: verifier.url,
    credentials: S3RVER_CREDENTIALS,
    env: {},
  });
  t.after(() => cache.close());
  const a = blob("the real bytes");
  await assert.rejects(
    cache.putBlob(a.digest, 5, async () => Readable.from([Buffer.from("wrong")])),
    /PUT \/tug-cache\/cas\/[a-f0-9]{64} answered 400 \(XAmzContentSHA256Mismatch/,
  );
  assert.equal((await rawGet(`${server.url}/tug-cache/cas/${hexOf(a.digest)}`)).status, 404);
});

test("errors name the bucket and S3's own code: bad signature, unknown key, missing bucket", async (t) => {
  const { verifier } = await s3(t);
  const badSecret = await s3RemoteCache("s3://tug-cache/x", {
    endpoint: verifier.url,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "wrong" },
    env: {},
  });
  t.after(() => badSecret.close());
  await assert.rejects(badSecret.getRecord(KEY), (e: unknown) => {
    assert.ok(isTugError(e));
    assert.match(
      e.what,
      /^remote cache s3:\/\/tug-cache\/x at http:\/\/127\.0\.0\.1:\d+: GET \/tug-cache\/x\/ac\/[a-f0-9]{64} answered 403 \(SignatureDoesNotMatch/,
    );
    assert.match(e.hint ?? "", /credentials/);
    assert.doesNotMatch(e.format(), /wrong/);
    return true;
  });
  await assert.rejects(badSecret.hasBlobs([blob("x").digest]), /HEAD .* answered 403/);

  const noBucket = await s3RemoteCache("s3://no-such-bucket/x", {
    endpoint: verifier.url,
    credentials: S3RVER_CREDENTIALS,
    env: {},
  });
  t.after(() => noBucket.close());
  await assert.rejects(noBucket.getRecord(KEY), (e: unknown) => {
    assert.ok(isTugError(e));
    assert.match(e.what, /answered 404 \(NoSuchBucket/);
    assert.match(e.hint ?? "", /create the bucket no-such-bucket/);
    return true;
  });
});

test("credentials, region and endpoint come from the AWS environment and shared credentials file", async (t) => {
  const { verifier } = await s3(t);
  const dir = await tempDir(t);
  const file = join(dir, "credentials");
  await writeFile(
    file,
    "[default]\naws_access_key_id = NOPE\naws_secret_access_key = NOPE\n\n# ci\n[ci]\naws_access_key_id=S3RVER\naws_secret_access_key = S3RVER\naws_session_token = tok\n",
  );
  assert.deepEqual(
    await resolveAwsCredentials({
      AWS_ACCESS_KEY_ID: "a",
      AWS_SECRET_ACCESS_KEY: "b",
      AWS_SHARED_CREDENTIALS_FILE: file,
    }),
    { accessKeyId: "a", secretAccessKey: "b" },
  );
  assert.deepEqual(await resolveAwsCredentials({ AWS_SHARED_CREDENTIALS_FILE: file }), {
    accessKeyId: "NOPE",
    secretAccessKey: "NOPE",
  });
  assert.deepEqual(await resolveAwsCredentials({ AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: "ci" }), {
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    sessionToken: "tok",
  });
  assert.equal(await resolveAwsCredentials({ HOME: dir }), undefined);
  await assert.rejects(
    resolveAwsCredentials({ AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: "gone" }),
    /profile "gone"/,
  );
  await assert.rejects(
    s3RemoteCache("s3://tug-cache", { env: { HOME: dir } }),
    /no AWS credentials for the remote cache s3:\/\/tug-cache/,
  );

  // Profile credentials (with a session token, signed too), endpoint and region all from env.
  const env = {
    AWS_SHARED_CREDENTIALS_FILE: file,
    AWS_PROFILE: "ci",
    AWS_ENDPOINT_URL: verifier.url,
    AWS_DEFAULT_REGION: "eu-west-3",
  };
  const cache = await s3RemoteCache("s3://tug-cache/env", { env });
  t.after(() => cache.close());
  const a = blob("via env");
  await cache.putBlob(a.digest, a.body.length, async () => Readable.from([a.body]));
  assert.deepEqual(await cache.hasBlobs([a.digest]), new Set([a.digest]));
  assert.deepEqual(
    verifier.requests.filter((r) => r.rejected),
    [],
  );
});

test("addressing: path-style at an endpoint, virtual-host style on AWS", () => {
  assert.deepEqual(parseS3Url("s3://b/a/b/"), { bucket: "b", prefix: "a/b" });
  assert.deepEqual(parseS3Url("s3://b"), { bucket: "b", prefix: "" });
  assert.throws(
    () => parseS3Url("s3://key:secret@b/x"),
    (e: unknown) => isTugError(e) && !/secret/.test(e.format()),
  );
  assert.deepEqual(s3Addressing("b", "eu-west-1", "http://minio:9000"), {
    origin: "http://minio:9000",
    host: "minio:9000",
    base: "/b",
  });
  assert.deepEqual(s3Addressing("b", "eu-west-1", undefined), {
    origin: "https://b.s3.eu-west-1.amazonaws.com",
    host: "b.s3.eu-west-1.amazonaws.com",
    base: "",
  });
  assert.deepEqual(s3Addressing("my.bucket", "us-east-1", undefined), {
    origin: "https://s3.us-east-1.amazonaws.com",
    host: "s3.us-east-1.amazonaws.com",
    base: "/my.bucket",
  });
});
