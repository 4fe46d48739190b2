// The README's base-image costs, counted at the wire: "a tag costs one manifest HEAD per build
// (none with --offline); a digest-pinned base never touches the network once cached". Builds
// write local outputs only, so every request the counting proxy sees is base resolution.
import assert from "node:assert/strict";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import type { ArtifactReport } from "../../src/index.ts";
import { makeBusyboxBase, makeImage } from "../support/bases.ts";
import { runTug, runTugJson } from "../support/cli.ts";
import { type CountingProxy, type RecordedRequest, startCountingProxy } from "../support/counting-proxy.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool, skopeoCopy, skopeoInspectRaw } from "../support/tools.ts";

interface BuildJson {
  artifacts: ArtifactReport[];
}

const describe = (reqs: RecordedRequest[]) =>
  reqs.map((r) => `${r.method} ${r.path} → ${r.status}`).join("\n");
const BASE_DIGEST = "org.opencontainers.image.base.digest";

/** busybox pushed (through the proxy) as base/busybox:1; returns its manifest digest. */
async function pushBase(t: TestContext, proxy: CountingProxy): Promise<string> {
  const busybox = await makeBusyboxBase(join(await tempDir(t, "tug-base-busybox-"), "layout"));
  await skopeoCopy(busybox.ref, `docker://${proxy.repo("base/busybox:1")}`);
  return tagDigest(proxy);
}

/** The manifest digest base/busybox:1 names now, as skopeo computes it. */
async function tagDigest(proxy: CountingProxy): Promise<string> {
  const ref = `docker://${proxy.repo("base/busybox:1")}`;
  const out = await runTool("skopeo", ["inspect", "--tls-verify=false", "--format", "{{.Digest}}", ref]);
  return out.stdout.trim();
}

/** Three `files` targets: two on the tag, one on the digest. */
async function project(t: TestContext, tagRef: string, pinnedRef: string): Promise<string> {
  const dir = await tempDir(t, "tug-base-proj-");
  const targets = { a: tagRef, b: tagRef, pinned: pinnedRef };
  let yaml = "images:\n";
  for (const [name, base] of Object.entries(targets)) {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, "index.html"), `${name}\n`);
    yaml += `  ${name}:\n    builder: files\n    context: ./${name}\n    dest: /srv/www\n    base: ${base}\n`;
  }
  await writeFile(join(dir, "tug.yaml"), yaml);
  return dir;
}

async function annotationOf(dir: string, target: string): Promise<string | undefined> {
  const m = await skopeoInspectRaw(`oci:${join(dir, ".tug", "out", "oci")}:${target}`);
  return m.annotations?.[BASE_DIGEST];
}

test("base images: one manifest HEAD per tag per build, none with --offline or for a pinned digest", async (t) => {
  const registry = await startRegistry(t);
  const proxy = await startCountingProxy(t, registry.url);
  const digest = await pushBase(t, proxy);
  const dir = await project(t, proxy.repo("base/busybox:1"), `${proxy.repo("base/busybox")}@${digest}`);
  const cache = await tempDir(t, "tug-base-cache-");
  const build = (...flags: string[]) =>
    runTugJson<BuildJson>(["build", ...flags], { cwd: dir, env: { TUG_CACHE: cache, TUG_REPO: undefined } });

  proxy.reset();
  const cold = await build();
  const coldReqs = proxy.requests();
  // Cold: each base layer is fetched once though three targets (two refs) use it. (The manifest
  // and config are fetched once per ref — the tag and the digest — which the README does not rule out.)
  const layers = ((await skopeoInspectRaw(`docker://${proxy.repo("base/busybox:1")}`)).layers ?? []).map(
    (l) => l.digest,
  );
  assert.ok(layers.length > 0);
  for (const l of layers) {
    const gets = coldReqs.filter((r) => r.method === "GET" && r.path.endsWith(`/blobs/${l}`));
    assert.equal(gets.length, 1, `${l}\n${describe(coldReqs)}`);
  }
  for (const a of cold.artifacts) assert.equal(await annotationOf(dir, a.target), digest, a.target);
  const names = await skopeoInspectRaw(`oci:${join(dir, ".tug", "out", "oci")}:a`);
  assert.equal(names.annotations?.["org.opencontainers.image.base.name"], proxy.repo("base/busybox:1"));

  // A source edit rebuilds `a` and `pinned`; the bases cost one HEAD for the tag and nothing else.
  await writeFile(join(dir, "a", "index.html"), "a2\n");
  await writeFile(join(dir, "pinned", "index.html"), "pinned2\n");
  proxy.reset();
  const warm = await build();
  const warmReqs = proxy.requests().filter((r) => r.path !== "/v2/");
  assert.deepEqual(
    warmReqs.map((r) => `${r.method} ${r.path}`),
    ["HEAD /v2/base/busybox/manifests/1"],
    describe(proxy.requests()),
  );
  assert.deepEqual(warm.artifacts.map((a) => [a.target, a.cached]).sort(), [
    ["a", false],
    ["b", true],
    ["pinned", false],
  ]);

  // --offline: the same images from the cache, and not one request.
  await writeFile(join(dir, "b", "index.html"), "b2\n");
  proxy.reset();
  const offline = await build("--offline");
  assert.deepEqual(proxy.requests(), []);
  assert.equal(offline.artifacts.find((a) => a.target === "b")?.cached, false);
  assert.equal(await annotationOf(dir, "b"), digest);

  // The tag moves: the one HEAD is what notices, and the tag's targets follow; the pinned one stays.
  const busybox = await makeBusyboxBase(join(await tempDir(t, "tug-base-busybox2-"), "layout"));
  const moved = await makeImage(join(await tempDir(t, "tug-base-moved-"), "layout"), "latest", {
    from: busybox,
    contents: [{ to: "/etc/motd", data: "v2\n" }],
  });
  await skopeoCopy(moved.ref, `docker://${proxy.repo("base/busybox:1")}`);
  const movedDigest = await tagDigest(proxy);
  assert.notEqual(movedDigest, digest);
  proxy.reset();
  await build();
  const manifestReqs = proxy.requests().filter((r) => /\/manifests\//.test(r.path));
  assert.equal(manifestReqs.filter((r) => r.method === "HEAD").length, 1, describe(proxy.requests()));
  assert.ok(
    manifestReqs.every((r) => !r.path.endsWith(`/manifests/${digest}`)),
    `the pinned base was not asked for again:\n${describe(proxy.requests())}`,
  );
  assert.equal(await annotationOf(dir, "a"), movedDigest);
  assert.equal(await annotationOf(dir, "b"), movedDigest);
  assert.equal(await annotationOf(dir, "pinned"), digest);
});

test("base images: --offline with an uncached base is one clear error and writes nothing", async (t) => {
  const registry = await startRegistry(t);
  const proxy = await startCountingProxy(t, registry.url);
  const digest = await pushBase(t, proxy);
  const dir = await project(t, proxy.repo("base/busybox:1"), `${proxy.repo("base/busybox")}@${digest}`);
  const cache = await tempDir(t, "tug-base-cache-");
  proxy.reset();
  const r = await runTug(["build", "--offline"], {
    cwd: dir,
    env: { TUG_CACHE: cache, TUG_REPO: undefined },
  });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--offline/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  assert.deepEqual(proxy.requests(), []);
  await assert.rejects(stat(join(dir, ".tug", "out", "oci")), { code: "ENOENT" });
});
