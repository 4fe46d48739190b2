import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { loadProject } from "../../src/config/load.ts";
import type { ImageTarget } from "../../src/config/types.ts";
import { Engine } from "../../src/engine/engine.ts";
import { defaultCompression, imageOutputs, mountFrom, outDir } from "../../src/image/output-policy.ts";
import { registryAccess } from "../../src/image/registry-sink.ts";
import { hexOf } from "../../src/oci/digest.ts";
import { fixture } from "../config/fixture.ts";
import { layerOf, memoryImage } from "../support/memory-image.ts";
import { tempDir } from "../support/tmp.ts";

const TUG_YAML = `
images:
  lib:
    builder: files
    dest: /srv
    base: 127.0.0.1:5000/library/alpine:3
  app:
    builder: files
    dest: /srv
    base: tug://lib
    compression: none
  other:
    builder: files
    dest: /srv
    base: registry.example.com/library/debian:12
`;

async function sampleProject(t: Parameters<typeof fixture>[0]) {
  const dir = await fixture(t, { "tug.yaml": TUG_YAML, "a.txt": "a\n" });
  return loadProject(join(dir, "tug.yaml"));
}

const target = (targets: ImageTarget[], name: string) => targets.find((x) => x.name === name)!;

test("gzip level 1 for local outputs and loopback registries, 6 across a network", () => {
  assert.deepEqual(defaultCompression(undefined), { kind: "gzip", level: 1 });
  assert.deepEqual(defaultCompression("127.0.0.1:5000/team"), { kind: "gzip", level: 1 });
  assert.deepEqual(defaultCompression("localhost/team"), { kind: "gzip", level: 1 });
  assert.deepEqual(defaultCompression("registry.example.com/team"), { kind: "gzip", level: 6 });
});

test("a target's own compression wins over the destination's level", async (t) => {
  const project = await sampleProject(t);
  const outputs = imageOutputs(project, { repo: "registry.example.com/team" });
  assert.deepEqual(outputs.compression(target(project.targets, "app")), { kind: "none" });
  assert.deepEqual(outputs.compression(target(project.targets, "lib")), { kind: "gzip", level: 6 });
});

test("local outputs go to --out, or .tug/out only when nothing is pushed", async (t) => {
  const project = await sampleProject(t);
  assert.equal(outDir(project, {}), join(project.dir, ".tug", "out"));
  assert.equal(outDir(project, { repo: "127.0.0.1:5000/team" }), undefined);
  assert.equal(outDir(project, { repo: "127.0.0.1:5000/team", out: "/x" }), "/x");
});

test("blobs are mounted from the base target's repository and a same-registry base", async (t) => {
  const project = await sampleProject(t);
  const from = mountFrom(project, "127.0.0.1:5000/team");
  assert.deepEqual(from("lib"), ["library/alpine"]);
  assert.deepEqual(from("app"), ["team/lib", "library/alpine"]);
  // A base on another registry cannot be mounted from.
  assert.deepEqual(from("other"), []);
});

test("--sign-key without a repository is refused when images are published", async (t) => {
  const project = await sampleProject(t);
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const outputs = imageOutputs(project, { signKey: { privateKey, publicKey, path: "cosign.key" } });
  const engine = await Engine.open({ cacheDir: await tempDir(t, "tug-cache-"), scope: project.dir });
  await assert.rejects(outputs.open({ engine, registry: registryAccess() }), {
    what: "--sign-key cosign.key without a repository: signatures are stored in a registry",
  });
});

test("the local sinks forget a corrupt blob, and the next publish writes it again", async (t) => {
  const project = await sampleProject(t);
  const out = await tempDir(t, "tug-out-");
  const engine = await Engine.open({ cacheDir: await tempDir(t, "tug-cache-"), scope: project.dir });
  const sink = await imageOutputs(project, { out, sbom: "none" }).open({
    engine,
    registry: registryAccess(),
  });
  assert.ok(sink.dropBlob, "the layout sink's recovery survives the SBOM decorator and the fan-out");
  const layer = await layerOf({ "srv/a.txt": "a\n" });
  const image = await memoryImage([layer]);
  await sink.publish(image, "lib", ["latest"]);
  const blob = join(out, "oci", "blobs", "sha256", hexOf(await layer.digest()));
  await stat(blob);
  await sink.dropBlob(await layer.digest());
  await assert.rejects(stat(blob), { code: "ENOENT" });
  const again = await sink.publish(image, "lib", ["latest"]);
  assert.ok(again.pushedBytes > 0, "the dropped blob was written again");
  const bytes = await readFile(blob);
  assert.equal(`sha256:${createHash("sha256").update(bytes).digest("hex")}`, await layer.digest());
});
