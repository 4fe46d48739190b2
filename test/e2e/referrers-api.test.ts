// A registry with the OCI 1.1 referrers API (test/support/referrers-registry.ts: docker-registry
// 2.8 for storage, the referrers endpoints in front of it, since no registry here has them): the
// SBOM and provenance manifests are pushed by digest, the registry's OCI-Subject answer makes
// the `sha256-<hex>` fallback tag unnecessary (none is written), `tug verify` finds them through
// `GET /v2/<name>/referrers/<digest>`, and a no-op build sends nothing.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runTug, runTugJson } from "../support/cli.ts";
import { startReferrersRegistry } from "../support/referrers-registry.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { skopeoInspectRaw } from "../support/tools.ts";

interface Report {
  artifacts: Array<{ target: string; digest: string; pushedBytes: number }>;
}

test("with the referrers API: no fallback tag, tug verify lists the referrers through the API", async (t) => {
  const storage = await startRegistry(t);
  const registry = await startReferrersRegistry(t, storage.url);
  const dir = await tempDir(t, "tug-referrers-");
  await mkdir(join(dir, "public"));
  await writeFile(join(dir, "public", "index.html"), "<h1>referred</h1>\n");
  await writeFile(
    join(dir, "tug.yaml"),
    "images:\n  site: { builder: files, context: ./public, dest: /srv/www }\n",
  );
  const env = {
    TUG_CACHE: await tempDir(t, "tug-referrers-cache-"),
    TUG_SIGN_PASSWORD: "",
    COSIGN_PASSWORD: "",
  };
  assert.equal((await runTug(["keygen"], { cwd: dir, env })).code, 0);
  const args = ["build", "--repo", registry.repo("demo"), "--provenance", "--sign-key", "cosign.key"];
  const built = await runTugJson<Report>(args, { cwd: dir, env });
  const digest = built.artifacts[0]?.digest as string;
  const hex = digest.slice("sha256:".length);

  // Both referrers were indexed by the API; the fallback tag was never written nor read.
  const res = await fetch(`${registry.url}/v2/demo/site/referrers/${digest}`);
  assert.equal(res.status, 200);
  const index = (await res.json()) as { manifests: Array<{ digest: string; artifactType: string }> };
  assert.deepEqual(index.manifests.map((m) => m.artifactType).sort(), [
    "application/spdx+json",
    "application/vnd.in-toto+json",
  ]);
  const sent = registry.requests();
  assert.ok(
    !sent.some((r) => r.path.includes(`/manifests/sha256-${hex}`) && !r.path.endsWith(".sig")),
    "no fallback tag",
  );
  await assert.rejects(skopeoInspectRaw(`docker://${storage.repo("demo/site")}:sha256-${hex}`));
  for (const m of index.manifests) {
    const pushed = await skopeoInspectRaw(`docker://${storage.repo("demo/site")}@${m.digest}`);
    assert.equal((pushed as unknown as { subject: { digest: string } }).subject.digest, digest);
  }

  // tug verify reads the referrers through the API and checks each names the digest.
  registry.reset();
  const verified = await runTugJson<{
    signatures: number;
    referrers: Array<{ subject: string; artifactType: string }>;
  }>(["verify", `${registry.repo("demo/site")}:latest`, "--key", "cosign.pub"], { cwd: dir, env });
  assert.equal(verified.signatures, 1);
  assert.deepEqual(verified.referrers.map((r) => [r.subject, r.artifactType]).sort(), [
    [digest, "application/spdx+json"],
    [digest, "application/vnd.in-toto+json"],
  ]);
  assert.ok(
    registry.requests().some((r) => r.method === "GET" && r.path === `/v2/demo/site/referrers/${digest}`),
  );

  // A no-op build pushes nothing, referrers included.
  registry.reset();
  const again = await runTugJson<Report>(args, { cwd: dir, env });
  assert.equal(again.artifacts[0]?.pushedBytes, 0);
  assert.ok(!registry.requests().some((r) => r.method === "PUT" || r.method === "POST"));
});
