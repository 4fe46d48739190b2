// Images that cannot start are refused at build time (issue 11, item 8), checked against bases
// made by umoci and images run by podman.
import assert from "node:assert/strict";
import { cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { makeBusyboxBase, makeImage } from "../support/bases.ts";
import { runTug } from "../support/cli.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { podmanRun, podmanRunDetached, waitForHttp } from "../support/tools.ts";

const DEMO = fileURLToPath(new URL("../../examples/demo", import.meta.url));

async function project(t: TestContext, yaml: string, parts: string[]) {
  const dir = await tempDir(t, "tug-e2e-start-");
  for (const p of parts) await cp(join(DEMO, p), join(dir, p), { recursive: true });
  await writeFile(join(dir, "tug.yaml"), yaml);
  return { dir, env: { TUG_CACHE: join(dir, ".cache"), TUG_REPO: "" } };
}

test("a node image on scratch fails at build with what, where and a base hint; opting out builds it", async (t) => {
  const web =
    "images:\n  web:\n    builder: node\n    context: ./web\n    entry: src/server.ts\n    base: scratch\n";
  const p = await project(t, web, ["web"]);
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /image web cannot start: node not found in the image \(looked in \/usr\/local\/sbin, /,
  );
  assert.match(r.stderr, /where: images\.web \(tug\.yaml:2\), linux\//);
  assert.match(
    r.stderr,
    /hint: scratch has no node on PATH: pick a base with node, e\.g\. base: docker\.io\/library\/node:20-slim/,
  );
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  // Nothing half-written: no image of web in the output layout.
  const out = await readdir(join(p.dir, ".tug/out")).catch(() => [] as string[]);
  assert.ok(!out.includes("web.tar"), `web.tar written: ${out.join(", ")}`);

  await writeFile(join(p.dir, "tug.yaml"), `${web}    entrypoint_check: false\n`);
  const skipped = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.equal(skipped.code, 0, skipped.stderr);
});

test("the embedded example's images run: go static on scratch, node on host:node", async (t) => {
  const p = await project(t, await readFile(join(DEMO, "tug.yaml"), "utf8"), ["hello", "web", "public"]);
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.equal(r.code, 0, r.stderr);
  const hello = await podmanRun(`docker-archive:${join(p.dir, ".tug/out/hello.tar")}`, []);
  assert.equal(hello.code, 0, hello.stderr);
  assert.equal(hello.stdout.trim(), "hello from tug");
  const box = await podmanRunDetached(t, `docker-archive:${join(p.dir, ".tug/out/web.tar")}`, [], {
    publish: [8080],
  });
  const res = await waitForHttp(`http://127.0.0.1:${box.ports[8080]}/`, { timeoutMs: 60_000 });
  assert.equal(res.status, 200, await box.logs());
  assert.match(res.body, /hello/i);
});

test("an entrypoint reached through base symlinks passes; warm builds never read the base's layers", async (t) => {
  // Merged /usr as Debian lays it out: /bin is a symlink to usr/bin, the applet a symlink to busybox.
  const busybox = await makeBusyboxBase(join(await tempDir(t, "tug-e2e-bb-"), "layout"));
  const layout = join(await tempDir(t, "tug-e2e-merged-"), "layout");
  const merged = await makeImage(layout, "latest", {
    from: busybox,
    symlinks: [
      { path: "/usr/bin", target: "../bin" },
      // busybox picks the applet by its name, so the link keeps it.
      { path: "/usr/local/bin/httpd", target: "/usr/bin/httpd" },
    ],
  });
  const yaml = `images:
  site:
    builder: files
    context: ./public
    dest: /srv/www
    base: oci-layout:${merged.layout}:latest
    entrypoint: ["httpd", "-f", "-p", "8080", "-h", "/srv/www"]
`;
  const p = await project(t, yaml, ["public"]);
  // Pushed: a warm push only HEADs the base's blobs, so the check is the only possible reader.
  const registry = await startRegistry(t);
  const args = ["build", "--repo", registry.repo("start")];
  const first = await runTug(args, { cwd: p.dir, env: p.env });
  assert.equal(first.code, 0, first.stderr);
  const box = await podmanRunDetached(t, `docker://${registry.repo("start/site")}:latest`, [], {
    publish: [8080],
  });
  const res = await waitForHttp(`http://127.0.0.1:${box.ports[8080]}/index.html`, { timeoutMs: 30_000 });
  assert.equal(res.status, 200, await box.logs());
  await box.stop();

  // The base's layer blobs go away: a warm build, and an edit, must not need them.
  const blobs = join(merged.layout, "blobs/sha256");
  const index = JSON.parse(await readFile(join(merged.layout, "index.json"), "utf8"));
  const manifest = JSON.parse(await readFile(join(blobs, index.manifests[0].digest.slice(7)), "utf8")) as {
    layers: Array<{ digest: string }>;
  };
  for (const l of manifest.layers) await rm(join(blobs, l.digest.slice(7)));
  await writeFile(join(p.dir, "public/index.html"), "<p>edited</p>\n");
  const warm = await runTug([...args, "--timings"], { cwd: p.dir, env: p.env });
  assert.equal(warm.code, 0, warm.stderr);
  assert.match(
    warm.stderr,
    /site\s+entrypoint check \S+\s+cached/,
    "no layer is read: the edited app layer's table was recorded when tug wrote it",
  );

  // Control: with the file tables gone from the cache, the check has to read those layers.
  const cold = await runTug(args, { cwd: p.dir, env: { ...p.env, TUG_CACHE: join(p.dir, ".cache2") } });
  assert.notEqual(cold.code, 0, "a cold cache reads the base's layers");
  assert.match(cold.stderr, /cannot list the files of layer sha256:/);
});
