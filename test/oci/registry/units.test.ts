import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { isTugError } from "../../../src/errors.ts";
import { dockerConfigCredentials, normalizeAuthKey } from "../../../src/oci/registry/auth-files.ts";
import { RegistryError } from "../../../src/oci/registry/errors.ts";
import { allSettledOrThrow, limiter } from "../../../src/oci/registry/limit.ts";
import { backoffDelay, DEFAULT_RETRY, withRetry } from "../../../src/oci/registry/retry.ts";
import { isPlainHttp } from "../../../src/oci/registry/transport.ts";
import { parseWwwAuthenticate } from "../../../src/oci/registry/www-authenticate.ts";
import { tempDir } from "../../support/tmp.ts";

test("parses WWW-Authenticate challenges", () => {
  assert.deepEqual(
    parseWwwAuthenticate(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push",error="insufficient_scope"',
    ),
    [
      {
        scheme: "bearer",
        params: {
          realm: "https://auth.docker.io/token",
          service: "registry.docker.io",
          scope: "repository:library/busybox:pull,push",
          error: "insufficient_scope",
        },
      },
    ],
  );
  assert.deepEqual(parseWwwAuthenticate(['Basic realm="x \\"y\\""', "Bearer realm=r, service=s"]), [
    { scheme: "basic", params: { realm: 'x "y"' } },
    { scheme: "bearer", params: { realm: "r", service: "s" } },
  ]);
  assert.deepEqual(parseWwwAuthenticate(undefined), []);
});

test("reads auths entries from config.json, matching hosts across URL forms", async (t) => {
  const dir = await tempDir(t);
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  await writeFile(
    join(dir, "config.json"),
    JSON.stringify({
      auths: {
        "https://index.docker.io/v1/": { auth: b64("hubuser:hubpass") },
        "http://localhost:5000/v2/": { username: "u", password: "p" },
        "ghcr.io": { identitytoken: "refresh-me" },
        "broken.io": { auth: b64("no-colon") },
      },
    }),
  );
  const creds = dockerConfigCredentials({ dir, env: {} });
  assert.deepEqual(await creds("docker.io"), { username: "hubuser", password: "hubpass" });
  assert.deepEqual(await creds("localhost:5000"), { username: "u", password: "p" });
  assert.deepEqual(await creds("ghcr.io"), { identityToken: "refresh-me", username: undefined });
  assert.equal(await creds("quay.io"), undefined);
  await assert.rejects(
    creds("broken.io"),
    (e) => isTugError(e) && /docker login broken\.io/.test(e.hint ?? ""),
  );
  assert.equal(normalizeAuthKey("https://registry-1.docker.io"), "docker.io");
  // No config file at all is simply "no credentials".
  assert.equal(await dockerConfigCredentials({ dir: join(dir, "missing"), env: {} })("x.io"), undefined);
});

test("a missing credential helper is a clear error", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "config.json"), JSON.stringify({ credsStore: "does-not-exist-tug" }));
  await assert.rejects(dockerConfigCredentials({ dir, env: { PATH: dir } })("x.io"), (e) => {
    assert.ok(isTugError(e));
    assert.match(e.what, /docker-credential-does-not-exist-tug/);
    return true;
  });
});

test("plain HTTP only for loopback and insecure registries", () => {
  assert.ok(isPlainHttp("localhost:5000"));
  assert.ok(isPlainHttp("127.0.0.1"));
  assert.ok(isPlainHttp("[::1]:5000"));
  assert.ok(!isPlainHttp("registry.example:5000"));
  assert.ok(isPlainHttp("registry.example:5000", ["registry.example:5000"]));
  assert.ok(isPlainHttp("registry.example:5000", ["registry.example"]));
  assert.ok(!isPlainHttp("localhost.example.com"));
});

test("backoff grows exponentially under a cap, with full jitter", () => {
  const policy = { ...DEFAULT_RETRY, baseMs: 100, maxMs: 1000, random: () => 0.999 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, policy)),
    [99, 199, 399, 799, 999, 999],
  );
  assert.equal(backoffDelay(3, { ...policy, random: () => 0 }), 0);
});

test("withRetry retries retryable errors only", async () => {
  const policy = { retries: 3, baseMs: 1, maxMs: 2, random: () => 0.5 };
  let calls = 0;
  const value = await withRetry(async () => {
    if (++calls < 3) throw new RegistryError({ what: "503", retryable: true });
    return "ok";
  }, policy);
  assert.equal(value, "ok");
  assert.equal(calls, 3);

  calls = 0;
  await assert.rejects(
    withRetry(async () => {
      calls++;
      throw new RegistryError({ what: "404", status: 404 });
    }, policy),
    /404/,
  );
  assert.equal(calls, 1);

  calls = 0;
  await assert.rejects(
    withRetry(async () => {
      calls++;
      throw new RegistryError({ what: "still down", retryable: true });
    }, policy),
    /still down/,
  );
  assert.equal(calls, 4);
});

test("limiter bounds concurrency; allSettledOrThrow waits for every task", async () => {
  const run = limiter(2);
  let active = 0;
  let peak = 0;
  const finished: number[] = [];
  const tasks = [0, 1, 2, 3, 4, 5].map((i) =>
    run(async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      finished.push(i);
      if (i === 0) throw new Error("first fails");
      return i;
    }),
  );
  await assert.rejects(allSettledOrThrow(tasks), /first fails/);
  assert.equal(peak, 2);
  assert.equal(finished.length, 6);
});
