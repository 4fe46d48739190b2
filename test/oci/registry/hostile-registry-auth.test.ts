// Token realms and credentials from a hostile registry, through the real CLI (go-containerregistry's
// realm rules): an https registry's realm must be https, credentials travel over plain http only
// to hosts allowed with --insecure-registry, and the password appears in no output or file.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  assertNoSecret,
  assertOneError,
  fixture,
  login,
  PASSWORD,
  tug,
} from "../../support/hostile-registry-fixture.ts";
import {
  selfSignedCert,
  startHostileRegistry,
  startHostileServer,
} from "../../support/hostile-registry-server.ts";

test("a silent token server fails within --http-timeout, naming the registry and operation", async (t) => {
  const tokens = await startHostileServer(t, {}, () => {
    // Never answers.
  });
  const reg = await startHostileRegistry(t, {
    handle: (req, res) => {
      if (req.headers.authorization) return false;
      res
        .writeHead(401, { "www-authenticate": `Bearer realm="${tokens.url}/token",service="hostile"` })
        .end();
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f, ["--http-timeout", "2"]);
  assertOneError(
    t,
    r,
    /registry 127\.0\.0\.1:\d+ timed out \(TUG_HEADERS_TIMEOUT\) during check manifest base:1/,
  );
  assert.match(r.stderr, /where: .*\/token/);
});

test("an https registry whose token realm is plain http: refused, naming the realm, no credentials sent", async (t) => {
  const tls = await selfSignedCert(t, "127.0.0.2");
  const tokens = await startHostileServer(t, { address: "127.0.0.2" }, (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end('{"token":"stolen"}');
  });
  const reg = await startHostileRegistry(t, {
    address: "127.0.0.2",
    tls,
    handle: (req, res) => {
      if (req.headers.authorization) return false;
      res
        .writeHead(401, { "www-authenticate": `Bearer realm="${tokens.url}/token",service="hostile"` })
        .end();
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  await login(f, reg.host);
  const r = await tug(f, [], { NODE_EXTRA_CA_CERTS: tls.certPath });
  assertOneError(
    t,
    r,
    new RegExp(`refused token realm ${tokens.url.replace(/\./g, "\\.")}/token: registry .* is https`),
  );
  assert.equal(tokens.requests.length, 0, "the token server was contacted");
  await assertNoSecret(f, r);
});

test("credentials go over plain http only to hosts allowed with --insecure-registry", async (t) => {
  const tokens = await startHostileServer(t, { address: "127.0.0.3" }, (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end('{"token":"t0k3n-for-test"}');
  });
  const reg = await startHostileRegistry(t, {
    address: "127.0.0.2",
    handle: (req, res) => {
      if (req.headers.authorization === "Bearer t0k3n-for-test") return false;
      res
        .writeHead(401, { "www-authenticate": `Bearer realm="${tokens.url}/token",service="hostile"` })
        .end();
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  await login(f, reg.host);

  // The registry is allowed plain http, its realm's host is not: the password stays home.
  const refused = await tug(f, ["--insecure-registry", reg.host]);
  assertOneError(
    t,
    refused,
    /refused token realm http:\/\/127\.0\.0\.3:\d+\/token: credentials for .* are not sent over plain http/,
  );
  assert.equal(tokens.requests.length, 0);
  await assertNoSecret(f, refused);

  // Both allowed: the exchange happens and the build succeeds; the secret is still nowhere.
  const allowed = await tug(f, ["--insecure-registry", reg.host, "--insecure-registry", tokens.host]);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(
    tokens.requests.length > 0 && tokens.requests.every((q) => q.authorization?.startsWith("Basic ")),
    true,
  );
  await assertNoSecret(f, allowed);
});

test("an https registry's Basic challenge gets credentials over TLS; they appear nowhere", async (t) => {
  const tls = await selfSignedCert(t, "127.0.0.2");
  const expected = `Basic ${Buffer.from(`tug-user:${PASSWORD}`).toString("base64")}`;
  const reg = await startHostileRegistry(t, {
    address: "127.0.0.2",
    tls,
    handle: (req, res) => {
      if (req.headers.authorization === expected) return false;
      res.writeHead(401, { "www-authenticate": 'Basic realm="hostile"' }).end();
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  await login(f, reg.host);
  const r = await tug(f, ["--json"], { NODE_EXTRA_CA_CERTS: tls.certPath });
  assert.equal(r.code, 0, r.stderr);
  await assertNoSecret(f, r);
});
