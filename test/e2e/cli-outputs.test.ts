// README "Outputs" and "Layer compression" claims at the CLI: --json's shape, progress on stderr
// (plain lines off a TTY, none with -q), --timings' steps and cache hits, `tug cache stats`, and
// gzip level 1 for local outputs unless `compression:` says otherwise — the level read from each
// layer's own gzip header (RFC 1952 XFL: 4 = fastest, 2 = best) and the blob checked by gzip -t.
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { runTug } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool, skopeoInspectConfig, skopeoInspectRaw } from "../support/tools.ts";

async function siteProject(
  t: TestContext,
  compression?: string,
): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = await tempDir(t, "tug-cli-out-");
  await mkdir(join(dir, "site"));
  await writeFile(join(dir, "site", "index.html"), "<p>tug</p>\n".repeat(200));
  await writeFile(join(dir, "tug.yaml"), yaml(compression));
  return { dir, env: { TUG_CACHE: await tempDir(t, "tug-cli-cache-"), TUG_REPO: undefined, CI: undefined } };
}

const yaml = (compression?: string) =>
  `images:\n  site:\n    builder: files\n    context: ./site\n    dest: /srv/www\n${compression ? `    compression: ${compression}\n` : ""}`;

/** The single layer of the `site` image in the project's OCI layout: media type, XFL byte, diffID. */
async function layerOf(dir: string) {
  const layout = join(dir, ".tug", "out", "oci");
  const manifest = await skopeoInspectRaw(`oci:${layout}:site`);
  const layer = manifest.layers?.[0];
  assert.ok(layer);
  const blob = join(layout, "blobs", "sha256", layer.digest.slice("sha256:".length));
  const bytes = await readFile(blob);
  const diffId = (await skopeoInspectConfig(`oci:${layout}:site`)).rootfs.diff_ids[0];
  return { mediaType: layer.mediaType, bytes, blob, diffId };
}

test("CLI: --json's fields, plain progress off a TTY, none with -q, --timings lists steps and hits", async (t) => {
  const p = await siteProject(t);
  const first = await runTug(["build", "--json"], { cwd: p.dir, env: p.env });
  assert.equal(first.code, 0, first.stderr);
  const report = JSON.parse(first.stdout) as { ms: number; artifacts: Array<Record<string, unknown>> };
  assert.ok(typeof report.ms === "number");
  const [site] = report.artifacts;
  assert.ok(site);
  for (const key of ["target", "kind", "platforms", "digest", "ref", "cached", "ms", "pushedBytes"]) {
    assert.ok(key in site, `--json artifact has ${key}: ${first.stdout}`);
  }
  assert.equal(site.kind, "image");
  assert.equal(site.cached, false);
  // Off a TTY: plain lines on stderr, no cursor movement.
  assert.match(first.stderr, /^site {2}files {2}built/m);
  assert.ok(!first.stderr.includes("\u001b["), "no ANSI escapes");

  const quiet = await runTug(["build", "-q", "--json"], { cwd: p.dir, env: p.env });
  assert.equal(quiet.code, 0);
  assert.equal(quiet.stderr, "");
  assert.equal((JSON.parse(quiet.stdout) as typeof report).artifacts[0]?.cached, true);

  const timings = await runTug(["build", "--timings"], { cwd: p.dir, env: p.env });
  assert.equal(timings.code, 0, timings.stderr);
  assert.match(timings.stderr, /^site {2}files {2}cached {2}\d+ ms$/m);
  assert.match(timings.stderr, /^site {2}publish {2}cached {2}\d+ ms$/m);

  const stats = await runTug(["cache", "stats", "--json"], { cwd: p.dir, env: p.env });
  assert.equal(stats.code, 0, stats.stderr);
  const s = JSON.parse(stats.stdout) as {
    blobs: { count: number };
    builds: Array<{ hits: number; misses: number }>;
  };
  assert.ok(s.blobs.count >= 1);
  assert.equal(s.builds.length, 3, "one entry per build");
  assert.equal(s.builds[0]?.hits, 0);
  assert.equal(s.builds.at(-1)?.misses, 0, "the last build was all hits");
});

test("compression: gzip level 1 for local outputs; {gzip: 9} and none recompress the same diffID without rebuilding it", async (t) => {
  const p = await siteProject(t);
  const build = async () => {
    const r = await runTug(["build", "--timings"], { cwd: p.dir, env: p.env });
    assert.equal(r.code, 0, r.stderr);
    return r.stderr;
  };
  await build();
  const fast = await layerOf(p.dir);
  assert.equal(fast.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
  assert.deepEqual([...fast.bytes.subarray(0, 3)], [0x1f, 0x8b, 8], "a gzip member");
  assert.equal(fast.bytes[8], 4, "XFL 4: compressed at the fastest level");
  await runTool("gzip", ["-t", fast.blob]);

  await writeFile(join(p.dir, "tug.yaml"), yaml("{ gzip: 9 }"));
  const best = await build();
  // New bytes, so not "cached"; but the layer is recompressed from the cache, not rebuilt.
  assert.match(best, /^site {2}files: recompressed from the cached layer/m, best);
  assert.doesNotMatch(best, /^site {2}files {2}cached/m);
  const nine = await layerOf(p.dir);
  assert.equal(nine.bytes[8], 2, "XFL 2: compressed at the best level");
  assert.equal(nine.diffId, fast.diffId);
  await runTool("gzip", ["-t", nine.blob]);

  await writeFile(join(p.dir, "tug.yaml"), yaml("none"));
  const none = await build();
  assert.match(none, /^site {2}files: recompressed from the cached layer/m, none);
  const plain = await layerOf(p.dir);
  assert.equal(plain.mediaType, "application/vnd.oci.image.layer.v1.tar");
  assert.equal(plain.diffId, fast.diffId);
  assert.ok((await runTool("tar", ["-tf", plain.blob])).stdout.includes("srv/www/index.html"));
});

test("zero-config: tug build ./DIR with no tug.yaml makes a files image of DIR under /app", async (t) => {
  const root = await tempDir(t, "tug-zero-config-");
  await mkdir(join(root, "static", "css"), { recursive: true });
  await writeFile(join(root, "static", "index.html"), "<p>zero</p>\n");
  await writeFile(join(root, "static", "css", "a.css"), "p{}\n");
  const env = { TUG_CACHE: await tempDir(t, "tug-zero-cache-"), TUG_REPO: undefined };
  const r = await runTug(["build", "./static", "--json"], { cwd: root, env });
  assert.equal(r.code, 0, r.stderr);
  const [a] = (JSON.parse(r.stdout) as { artifacts: Array<{ target: string; kind: string }> }).artifacts;
  assert.equal(a?.target, "static");
  // The directory is the project: its outputs land in its own .tug/out, read by skopeo and GNU tar.
  const dir = join(root, "static", ".tug", "out", "oci");
  const manifest = await skopeoInspectRaw(`oci:${dir}:static`);
  const layer = manifest.layers?.at(-1);
  assert.ok(layer);
  const blob = join(dir, "blobs", "sha256", layer.digest.slice("sha256:".length));
  const names = (await runTool("tar", ["-tzf", blob])).stdout.trim().split("\n");
  assert.ok(names.includes("app/index.html") && names.includes("app/css/a.css"), names.join("\n"));
});
