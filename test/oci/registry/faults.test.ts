import assert from "node:assert/strict";
import { test } from "node:test";
import { isTugError } from "../../../src/errors.ts";
import { parseReference } from "../../../src/oci/reference.ts";
import { RegistryClient } from "../../../src/oci/registry/client.ts";
import { pushArtifact } from "../../../src/oci/registry/push.ts";
import { fetchArtifact } from "../../../src/oci/registry/remote-image.ts";
import { isIndex } from "../../../src/oci/types.ts";
import { type FaultProxyOptions, startFaultProxy } from "../../support/fault-proxy.ts";
import { layerFromTar, layerOf, memoryImage, noise, tarOf } from "../../support/memory-image.ts";
import { startRegistry } from "../../support/registry.ts";
import { tempDir } from "../../support/tmp.ts";
import { skopeoCopy, skopeoInspectRaw, ToolError } from "../../support/tools.ts";

// Small timeouts so stalls cost well under a second; small monolithic limit so PATCH runs too.
function faultyClient(t: { after: (fn: () => Promise<void>) => void }, retries = 6): RegistryClient {
  const c = new RegistryClient({
    credentials: async () => undefined,
    timeouts: { headersMs: 400, bodyIdleMs: 400, uploadIdleMs: 400 },
    retry: { retries, baseMs: 5, maxMs: 50 },
    monolithicMaxBytes: 64 * 1024,
  });
  t.after(() => c.close());
  return c;
}

async function testImage(seed: string) {
  return memoryImage([
    layerFromTar(await tarOf({ big: noise(300 * 1024, seed) })),
    await layerOf({ a: `a-${seed}` }),
    await layerOf({ b: `b-${seed}` }),
  ]);
}

async function proxied(t: Parameters<typeof startRegistry>[0], opts: Omit<FaultProxyOptions, "target">) {
  const registry = await startRegistry(t);
  const proxy = await startFaultProxy(t, { target: `${registry.host}:${registry.port}`, ...opts });
  return { registry, proxy };
}

test("random resets, 5xx and stalls: every push succeeds or fails clearly, never half-tagged", async (t) => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const { registry, proxy } = await proxied(t, { seed, rate: 0.25 });
    const image = await testImage(`seed${seed}`);
    const c = faultyClient(t, seed % 2 === 0 ? 6 : 2);
    const target = parseReference(proxy.repo(`faults/s${seed}:v1`));
    let pushed = false;
    try {
      const res = await pushArtifact(c, image, target);
      assert.equal(res.digest, await image.digest());
      pushed = true;
      t.diagnostic(`seed ${seed}: pushed despite ${JSON.stringify(proxy.injected)}`);
    } catch (e) {
      t.diagnostic(
        `seed ${seed}: ${isTugError(e) ? e.what : String(e)} after ${JSON.stringify(proxy.injected)}`,
      );
      assert.ok(isTugError(e), `seed ${seed}: not a TugError: ${String(e)}`);
      assert.ok(e.what.length > 0);
    }
    // Read back directly, not through the proxy.
    const direct = `docker://${registry.repo(`faults/s${seed}:v1`)}`;
    let raw: unknown;
    try {
      raw = await skopeoInspectRaw(direct);
    } catch (e) {
      if (!(e instanceof ToolError)) throw e;
      assert.ok(!pushed, `seed ${seed}: push reported success but the tag is missing`);
      continue;
    }
    assert.deepEqual(raw, JSON.parse((await image.rawManifest()).toString()));
    // skopeo copy fetches and verifies every blob the manifest names.
    await skopeoCopy(direct, `oci:${await tempDir(t)}:v1`);
    assert.ok(Object.keys(proxy.injected).length > 0, `seed ${seed} injected no faults`);
  }
});

test("transient 5xx, 429 and lost responses are retried until the push succeeds", async (t) => {
  const first = new Set<string>();
  const faults = ["503", "429", "reset-after", "500", "reset"] as const;
  const { registry, proxy } = await proxied(t, {
    // The first attempt of every non-ping request fails, cycling through the fault kinds.
    decide: (r) => {
      if (r.url === "/v2/") return undefined;
      const key = `${r.method} ${r.url.split("?")[0]?.replace(/uploads\/[^/]+$/, "uploads/…")}`;
      if (first.has(key)) return undefined;
      first.add(key);
      return faults[first.size % faults.length];
    },
  });
  const image = await testImage("retry");
  const retries: string[] = [];
  const c2 = new RegistryClient({
    credentials: async () => undefined,
    retry: { retries: 6, baseMs: 5, maxMs: 50 },
    monolithicMaxBytes: 64 * 1024,
    onRetry: (n) => retries.push(n.operation),
  });
  t.after(() => c2.close());
  const res = await pushArtifact(c2, image, parseReference(proxy.repo("retry/app:v1")));
  assert.equal(res.digest, await image.digest());
  assert.ok(retries.length >= 4, `expected several retries, got ${retries.length}`);
  await skopeoCopy(`docker://${registry.repo("retry/app:v1")}`, `oci:${await tempDir(t)}:v1`);
});

test("a stalled response body times out and is retried", async (t) => {
  const registry = await startRegistry(t);
  const c = faultyClient(t);
  const image = await testImage("stall");
  await pushArtifact(c, image, parseReference(registry.repo("stall/app:v1")));
  let stalled = 0;
  const proxy = await startFaultProxy(t, {
    target: `${registry.host}:${registry.port}`,
    decide: (r) =>
      r.method === "GET" && r.url.includes("/blobs/") && stalled++ === 0 ? "stall-body" : undefined,
  });
  const fetched = await fetchArtifact(c, parseReference(proxy.repo("stall/app:v1")));
  assert.ok(!isIndex(fetched));
  const started = Date.now();
  assert.equal((await fetched.config()).os, "linux");
  assert.equal(proxy.injected["stall-body"], 1);
  assert.ok(Date.now() - started < 5000);
});

test("client errors are not retried", async (t) => {
  const { proxy } = await proxied(t, {});
  const c = faultyClient(t);
  c.resetCounts();
  await assert.rejects(fetchArtifact(c, parseReference(proxy.repo("nothing/here:v1"))), /not found/);
  assert.equal(c.requestCounts().GET, 2, "ping and one manifest GET");
});

test("a registry that keeps failing ends in a clear error after the retries", async (t) => {
  const { proxy } = await proxied(t, { decide: (r) => (r.url === "/v2/" ? undefined : "503") });
  const c = faultyClient(t, 3);
  const image = await memoryImage([await layerOf({ a: "x" })]);
  c.resetCounts();
  await assert.rejects(pushArtifact(c, image, parseReference(proxy.repo("down/app:v1"))), (e) => {
    assert.ok(isTugError(e));
    assert.match(e.what, /answered 503/);
    return true;
  });
  assert.equal(c.requestCounts().PUT, undefined, "no manifest without its blobs");
});
