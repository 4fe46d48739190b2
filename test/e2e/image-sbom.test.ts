// An image's SBOM is attached the OCI 1.1 way: in the layout as an artifact manifest whose
// subject is the image (found by walking index.json), and in Debian's docker-registry 2.8 through
// the referrers tag `sha256-<hex>` (skopeo reads both). Its Go modules are what `go version -m`
// reads from the binary umoci unpacks; its base is the pushed base's reference and digest.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { build, loadProject } from "../../src/index.ts";
import { goModulesOf } from "../../src/sbom/go-modules.ts";
import { makeBusyboxBase } from "../support/bases.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool, skopeoCopy, skopeoInspectRaw, umociUnpack } from "../support/tools.ts";

const HELLO = fileURLToPath(new URL("../../examples/demo/hello", import.meta.url));

interface SpdxDoc {
  spdxVersion: string;
  packages: Array<{
    SPDXID: string;
    name: string;
    versionInfo?: string;
    checksums?: Array<{ checksumValue: string }>;
  }>;
  relationships: Array<{ spdxElementId: string; relationshipType: string; relatedSpdxElement: string }>;
}

const hexOf = (digest: string) => digest.slice("sha256:".length);

test("a Go image's SBOM: in the layout and behind the registry's referrers tag, modules as go version -m reads them", async (t) => {
  const registry = await startRegistry(t);
  const base = await makeBusyboxBase();
  const baseRef = registry.repo("base/busybox:1");
  await skopeoCopy(base.ref, `docker://${baseRef}`);
  const baseDigest = `sha256:${createHash("sha256")
    .update(
      (await runTool("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${baseRef}`])).stdout,
    )
    .digest("hex")}`;
  const dir = await tempDir(t, "tug-image-sbom-");
  await cp(HELLO, join(dir, "hello"), { recursive: true });
  await writeFile(
    join(dir, "tug.yaml"),
    `images:\n  hello:\n    builder: go\n    context: ./hello\n    base: ${baseRef}\n`,
  );
  const cache = await tempDir(t, "tug-image-sbom-cache-");
  const out = join(dir, "out");
  const opts = { repo: registry.repo("demo"), out, cacheDir: cache, insecureRegistries: [] };
  const [hello] = (await build(await loadProject(join(dir, "tug.yaml")), opts)).artifacts;
  const digest = hello?.digest as string;

  // The layout: an untagged manifest in index.json whose subject is the image.
  const layout = join(out, "oci");
  const blob = (d: string) => readFile(join(layout, "blobs", "sha256", hexOf(d)));
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8"));
  const referrers = [];
  for (const m of index.manifests) {
    const manifest = JSON.parse((await blob(m.digest)).toString());
    if (manifest.subject?.digest === digest) referrers.push({ digest: m.digest, manifest });
  }
  assert.equal(referrers.length, 1);
  const { manifest } = referrers[0] as { manifest: Record<string, never> };
  const art = manifest as unknown as {
    artifactType: string;
    config: { mediaType: string };
    layers: Array<{ mediaType: string; digest: string }>;
  };
  assert.equal(art.artifactType, "application/spdx+json");
  assert.equal(art.config.mediaType, "application/vnd.oci.empty.v1+json");
  const doc = JSON.parse((await blob(art.layers[0]?.digest as string)).toString()) as SpdxDoc;
  assert.equal(doc.spdxVersion, "SPDX-2.3");
  const rootId = doc.relationships.find((r) => r.relationshipType === "DESCRIBES")?.relatedSpdxElement;
  const root = doc.packages.find((p) => p.SPDXID === rootId);
  assert.deepEqual(root?.checksums, [{ algorithm: "SHA256", checksumValue: hexOf(digest) }]);
  const baseRow = doc.packages.find((p) => p.name === baseRef);
  assert.equal(baseRow?.versionInfo, baseDigest);

  // Go modules: the binary as umoci unpacks it from the layout, read by go itself.
  const rootfs = await umociUnpack(layout, "hello", join(dir, "bundle"));
  const modules = await goModulesOf(join(rootfs, "app", "hello"));
  assert.ok(modules.length > 0);
  for (const m of modules) {
    assert.ok(
      doc.packages.some((p) => p.name === m.name && p.versionInfo === m.version),
      `${m.name} ${m.version} is in the SBOM`,
    );
  }

  // The registry: the referrers tag holds an index naming the same artifact manifest.
  const tagRef = `docker://${registry.repo("demo/hello")}:sha256-${hexOf(digest)}`;
  const tagIndex = (await skopeoInspectRaw(tagRef)) as unknown as {
    manifests: Array<{ digest: string; artifactType: string }>;
  };
  assert.deepEqual(
    tagIndex.manifests.map((m) => [m.digest, m.artifactType]),
    [[referrers[0]?.digest, "application/spdx+json"]],
  );
  const pushed = await skopeoInspectRaw(`docker://${registry.repo("demo/hello")}@${referrers[0]?.digest}`);
  assert.deepEqual((pushed as unknown as { subject: { digest: string } }).subject.digest, digest);

  // A no-op build sends and writes nothing, SBOMs included.
  const [again] = (await build(await loadProject(join(dir, "tug.yaml")), opts)).artifacts;
  assert.equal(again?.digest, digest);
  assert.equal(again?.pushedBytes, 0);
});
