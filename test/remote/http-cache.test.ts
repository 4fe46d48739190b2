// The Bazel HTTP cache backend against Debian's nginx as a WebDAV PUT store.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { isTugError, TugError } from "../../src/errors.ts";
import { type Digest, hexOf, sha256 } from "../../src/oci/digest.ts";
import { httpRemoteCache } from "../../src/remote/http-cache.ts";
import { startCountingProxy } from "../support/counting-proxy.ts";
import { startFaultProxy } from "../support/fault-proxy.ts";
import { startNginxDav } from "../support/nginx-dav.ts";
import { freePort } from "../support/tools.ts";

const FAST = { connectMs: 1000, idleMs: 500 };

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function blob(text: string): { digest: Digest; body: Buffer } {
  const body = Buffer.from(text);
  return { digest: sha256(body), body };
}

const KEY = "ab".repeat(32);

test("blobs and records round-trip through nginx; 404 is a miss", async (t) => {
  const nginx = await startNginxDav(t);
  const cache = httpRemoteCache(nginx.url);
  t.after(() => cache.close());
  const a = blob("layer a");
  const b = blob("layer b".repeat(100_000));
  const missing = blob("never stored");

  assert.equal(await cache.getBlob(missing.digest), undefined);
  assert.equal(await cache.getRecord(KEY), undefined);
  assert.deepEqual(await cache.hasBlobs([a.digest, missing.digest]), new Set());

  await cache.putBlob(a.digest, a.body.length, async () => Readable.from([a.body]));
  // A streamed body, in several chunks, sized up front.
  await cache.putBlob(b.digest, b.body.length, async () =>
    Readable.from([b.body.subarray(0, 1000), b.body.subarray(1000)]),
  );
  await cache.putRecord(KEY, Buffer.from('{"v":1}'));

  assert.deepEqual(
    await cache.hasBlobs([a.digest, b.digest, missing.digest, a.digest]),
    new Set([a.digest, b.digest]),
  );
  const got = await cache.getBlob(b.digest);
  assert.ok(got);
  assert.deepEqual(await readAll(got), b.body);
  assert.deepEqual(await cache.getRecord(KEY), Buffer.from('{"v":1}'));
  // The Bazel layout, on the server's disk.
  assert.deepEqual(await readFile(join(nginx.root, "cas", hexOf(a.digest))), a.body);
  assert.deepEqual(await readFile(join(nginx.root, "ac", KEY)), Buffer.from('{"v":1}'));

  // A blob the server already has is not opened again.
  await cache.putBlob(a.digest, a.body.length, async () => assert.fail("opened a blob the server has"));
  assert.equal(cache.name, nginx.url);
});

test("an instance prefix path keeps teams apart", async (t) => {
  const nginx = await startNginxDav(t);
  const teamA = httpRemoteCache(`${nginx.url}/team-a/`);
  const teamB = httpRemoteCache(`${nginx.url}/team-b`);
  t.after(() => Promise.all([teamA.close(), teamB.close()]));
  const a = blob("only in team a");
  await teamA.putBlob(a.digest, a.body.length, async () => Readable.from([a.body]));
  await teamA.putRecord(KEY, Buffer.from("rec"));
  assert.deepEqual(await readFile(join(nginx.root, "team-a", "cas", hexOf(a.digest))), a.body);
  assert.deepEqual(await teamA.hasBlobs([a.digest]), new Set([a.digest]));
  assert.deepEqual(await teamB.hasBlobs([a.digest]), new Set());
  assert.equal(await teamB.getRecord(KEY), undefined);
  assert.equal(teamA.name, `${nginx.url}/team-a`);
});

test("hasBlobs: one HEAD per distinct digest, no more", async (t) => {
  const nginx = await startNginxDav(t);
  const proxy = await startCountingProxy(t, nginx.url);
  const cache = httpRemoteCache(`http://${proxy.host}`);
  t.after(() => cache.close());
  const digests = Array.from({ length: 30 }, (_, i) => blob(`b${i}`).digest);
  const found = await cache.hasBlobs([...digests, ...digests]);
  assert.equal(found.size, 0);
  const reqs = proxy.requests();
  assert.equal(reqs.length, 30);
  assert.ok(reqs.every((r) => r.method === "HEAD" && r.status === 404));
  assert.equal(cache.requestCounts().total, 30);
});

test("basic auth from the URL's userinfo; without it, a clear 401 that never shows the password", async (t) => {
  const nginx = await startNginxDav(t, { basicAuth: { username: "ci", password: "s3cr3t:pw" } });
  const port = new URL(nginx.url).port;
  const authed = httpRemoteCache(`http://ci:${encodeURIComponent("s3cr3t:pw")}@127.0.0.1:${port}/x`);
  const anonymous = httpRemoteCache(`http://127.0.0.1:${port}/x`);
  const wrong = httpRemoteCache(`http://ci:nope@127.0.0.1:${port}/x`);
  t.after(() => Promise.all([authed.close(), anonymous.close(), wrong.close()]));
  assert.equal(authed.name, `http://127.0.0.1:${port}/x`);

  const a = blob("private");
  await authed.putBlob(a.digest, a.body.length, async () => Readable.from([a.body]));
  assert.deepEqual(await authed.hasBlobs([a.digest]), new Set([a.digest]));
  const got = await authed.getBlob(a.digest);
  assert.ok(got);
  assert.deepEqual(await readAll(got), a.body);

  for (const cache of [anonymous, wrong]) {
    const err = await cache.getBlob(a.digest).then(
      () => assert.fail("expected a 401"),
      (e: unknown) => e,
    );
    assert.ok(isTugError(err), String(err));
    assert.match(
      err.what,
      new RegExp(`remote cache http://127.0.0.1:${port}/x: GET /x/cas/[a-f0-9]{64} answered 401`),
    );
    assert.match(err.hint ?? "", /credentials/);
    assert.doesNotMatch(err.format(), /s3cr3t|nope/);
    await assert.rejects(cache.hasBlobs([a.digest]), /answered 401/);
  }
});

test("a bearer token goes in the Authorization header; userinfo wins over it", async (t) => {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as AddressInfo;
  const bearer = httpRemoteCache(`http://127.0.0.1:${port}`, { token: "tkn" });
  const basic = httpRemoteCache(`http://u:p@127.0.0.1:${port}`, { token: "tkn" });
  t.after(() => Promise.all([bearer.close(), basic.close()]));
  await bearer.getRecord(KEY);
  await basic.getRecord(KEY);
  assert.equal(seen[0]?.authorization, "Bearer tkn");
  assert.equal(seen[1]?.authorization, `Basic ${Buffer.from("u:p").toString("base64")}`);
});

test("failures are TugErrors naming the server and what went wrong: down, 500, stalled", async (t) => {
  const downPort = await freePort();
  const down = httpRemoteCache(`http://127.0.0.1:${downPort}/c`, { timeouts: FAST });
  t.after(() => down.close());
  await assert.rejects(down.getRecord(KEY), (e: unknown) => {
    assert.ok(e instanceof TugError);
    assert.match(
      e.what,
      new RegExp(`remote cache http://127.0.0.1:${downPort}/c: GET /c/ac/${KEY} failed: connection refused`),
    );
    return true;
  });

  const nginx = await startNginxDav(t);
  const a = blob("stored");
  let fault: "500" | "stall" | "stall-body" | undefined;
  const proxy = await startFaultProxy(t, { target: `127.0.0.1:${nginx.port}`, decide: () => fault });
  const cache = httpRemoteCache(`http://${proxy.host}:${proxy.port}`, { timeouts: FAST });
  t.after(() => cache.close());
  await cache.putBlob(a.digest, a.body.length, async () => Readable.from([a.body]));

  fault = "500";
  await assert.rejects(cache.hasBlobs([a.digest]), /HEAD \/cas\/[a-f0-9]{64} answered 500/);
  await assert.rejects(cache.putRecord(KEY, Buffer.from("x")), /PUT \/ac\/[a-f0-9]{64} answered 500/);

  fault = "stall";
  const started = Date.now();
  await assert.rejects(cache.getBlob(a.digest), /GET \/cas\/[a-f0-9]{64} stalled for 500 ms/);
  assert.ok(Date.now() - started < 5000);

  // Headers arrive, then the body stops: the stream the caller reads fails, it does not hang.
  fault = "stall-body";
  const body = await cache.getBlob(a.digest);
  assert.ok(body);
  await assert.rejects(readAll(body), /timed out/);

  fault = undefined;
  assert.deepEqual(await cache.hasBlobs([a.digest]), new Set([a.digest]));
});

test("URLs that are not http(s) are refused without echoing credentials", () => {
  assert.throws(
    () => httpRemoteCache("ftp://u:pw@host/x"),
    (e: unknown) => {
      assert.ok(isTugError(e));
      assert.doesNotMatch(e.format(), /pw/);
      return true;
    },
  );
  assert.throws(() => httpRemoteCache("http://u:pw@[bad/x"), /not a URL: http:\/\/\[bad\/x/);
});
