// Acceptance for issue 11 item 6: `base: tug://NAME` chains built in one `tug build`, and extra
// `layers:` (ko's kodata). skopeo reads the OCI layout tug wrote, podman runs the last image of
// the chain: a Go program that prints files from every target of the chain.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import type { ArtifactReport } from "../../src/index.ts";
import { makeBusyboxBase } from "../support/bases.ts";
import { runTug, runTugJson } from "../support/cli.ts";
import { startCountingProxy } from "../support/counting-proxy.ts";
import { OFFLINE_GO_ENV, writeTree } from "../support/go-monorepo.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { podmanRun, runTool, skopeoCopy, skopeoInspectConfig, skopeoInspectRaw } from "../support/tools.ts";

interface BuildJson {
  artifacts: ArtifactReport[];
}

const MAIN_GO = `package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func show(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Println(path, "missing")
		return
	}
	fmt.Printf("%s=%s\\n", path, b)
}

func main() {
	show("/srv/assets/a.txt")
	show(filepath.Join(os.Getenv("KO_DATA_PATH"), "greeting.txt"))
	show(filepath.Join(os.Getenv("KO_DATA_PATH"), "note.bak"))
	show("/srv/final/f.txt")
}
`;

const yaml = (assetsBase: string) => `images:
  final:
    builder: files
    context: ./final
    dest: /srv/final
    base: tug://app
  app:
    builder: go
    context: ./app
    base: tug://assets
    layers:
      - { from: ./kodata, to: /var/run/ko }
  assets:
    builder: files
    context: ./assets
    dest: /srv/assets
    base: ${assetsBase}
`;

async function chain(t: TestContext) {
  const dir = await tempDir(t, "tug-e2e-graph-");
  const cache = await tempDir(t, "tug-e2e-graph-cache-");
  const busybox = await makeBusyboxBase(join(await tempDir(t, "tug-e2e-busybox-"), "layout"));
  const base = `oci-layout:${busybox.layout}:latest`;
  await writeTree(dir, {
    "tug.yaml": yaml(base),
    "assets/a.txt": "assets v1",
    "app/go.mod": "module example.com/app\n\ngo 1.19\n",
    "app/main.go": MAIN_GO,
    "app/kodata/greeting.txt": "hello from kodata",
    // The context's ignore files apply to `layers:` too.
    "app/kodata/note.bak": "left out",
    "app/.dockerignore": "**/*.bak\n",
    "final/f.txt": "final v1",
  });
  const env = { ...OFFLINE_GO_ENV, TUG_CACHE: cache, TUG_REPO: undefined };
  const build = async (args: string[] = []) => {
    const out = await runTugJson<BuildJson>(["build", ...args], { cwd: dir, env });
    return Object.fromEntries(out.artifacts.map((a) => [a.target, a]));
  };
  const layout = join(dir, ".tug", "out", "oci");
  return { dir, env, base, build, layout };
}

test("tug:// chain of three in one build: order, every layer in the last image, kodata, rebuilds follow the chain", async (t) => {
  const c = await chain(t);
  const first = await c.build();
  assert.deepEqual(Object.keys(first).sort(), ["app", "assets", "final"]);
  for (const a of Object.values(first)) assert.equal(a.cached, false, a.target);

  // Each image is its base plus its own layers, in order: assets ⊂ app ⊂ final (read by skopeo).
  const config = (name: string) => skopeoInspectConfig(`oci:${c.layout}:${name}`);
  const [assets, app, final] = await Promise.all(["assets", "app", "final"].map(config));
  const ids = (x: typeof assets) => x!.rootfs.diff_ids;
  assert.deepEqual(ids(app).slice(0, ids(assets).length), ids(assets));
  assert.deepEqual(ids(final).slice(0, ids(app).length), ids(app));
  assert.equal(ids(app).length, ids(assets).length + 2, "app adds its Go layer and the kodata layer");
  assert.equal(ids(final).length, ids(app).length + 1);
  assert.ok(app!.config?.Env?.includes("KO_DATA_PATH=/var/run/ko"), String(app!.config?.Env));
  const finalManifest = await skopeoInspectRaw(`oci:${c.layout}:final`);
  assert.equal(finalManifest.annotations?.["org.opencontainers.image.base.digest"], first.app!.digest);
  assert.equal(finalManifest.annotations?.["org.opencontainers.image.title"], "final");

  const run = async () => {
    const r = await podmanRun(`oci:${c.layout}:final`, []);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  assert.equal(
    await run(),
    "/srv/assets/a.txt=assets v1\n/var/run/ko/greeting.txt=hello from kodata\n/var/run/ko/note.bak missing\n/srv/final/f.txt=final v1\n",
  );

  const noop = await c.build();
  for (const a of Object.values(noop)) {
    assert.equal(a.cached, true, a.target);
    assert.equal(a.digest, first[a.target]!.digest, a.target);
  }

  // An edit to the first target rebuilds the chain: three new images. The Go binary and the
  // kodata layer do not read the base, so app's own layers are reused, not recompiled.
  await writeFile(join(c.dir, "assets", "a.txt"), "assets v2");
  const edited = await c.build();
  for (const a of Object.values(edited)) {
    assert.equal(a.cached, false, a.target);
    assert.notEqual(a.digest, first[a.target]!.digest, a.target);
  }
  const app2 = await config("app");
  assert.deepEqual(ids(app2).slice(-2), ids(app).slice(-2));
  assert.match(await run(), /^\/srv\/assets\/a\.txt=assets v2\n/);
  const explain = await runTug(["explain", "app"], { cwd: c.dir, env: c.env });
  assert.equal(explain.code, 0, explain.stderr);
  assert.match(
    explain.stdout,
    /base tug:\/\/assets linux\/\w+: up to date[^\n]*\n {2}last rebuilt because:\n {2}- base target assets changed/,
  );

  // An edit to the last target rebuilds only the last.
  await writeFile(join(c.dir, "final", "f.txt"), "final v2");
  const last = await c.build();
  assert.equal(last.final!.cached, false);
  assert.notEqual(last.final!.digest, edited.final!.digest);
  for (const name of ["assets", "app"]) {
    assert.equal(last[name]!.cached, true, name);
    assert.equal(last[name]!.digest, edited[name]!.digest, name);
  }
  assert.match(await run(), /\/srv\/final\/f\.txt=final v2\n$/);

  // Naming the last alone builds its bases too but publishes only it.
  const alone = await c.build(["final", "--out", join(c.dir, "alone")]);
  assert.deepEqual(Object.keys(alone), ["final"]);
  assert.equal(alone.final!.digest, last.final!.digest);
});

test("a tug:// cycle is a config error at the base: line, and nothing is built", async (t) => {
  const c = await chain(t);
  await writeFile(join(c.dir, "tug.yaml"), yaml("tug://final"));
  const r = await runTug(["build"], { cwd: c.dir, env: c.env });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /base cycle: final → app → assets → final/);
  assert.match(r.stderr, /images\.final\.base \(tug\.yaml:6:11\)/);
  const out = await runTool("ls", ["-A", c.dir]);
  assert.ok(!out.stdout.split("\n").includes(".tug"), out.stdout);
});

test("per platform: each platform image of a dependent stands on the same platform of its base target", async (t) => {
  const dir = await tempDir(t, "tug-e2e-graph-platforms-");
  await writeTree(dir, {
    "tug.yaml": `images:
  app:
    builder: files
    context: ./app
    dest: /app
    base: tug://arch
    platforms: [linux/amd64, linux/arm64]
  arch:
    builder: command
    run: mkdir -p out && echo "$TUG_ARCH" > out/arch
    output: out
    dest: /etc/built-for
    platforms: [linux/arm64, linux/amd64, linux/riscv64]
`,
    "app/index.html": "hi\n",
  });
  const env = { TUG_CACHE: await tempDir(t, "tug-e2e-graph-cache-"), TUG_REPO: undefined };
  // --jobs 1: the platforms of a command target share its output directory (one at a time).
  const out = await runTugJson<BuildJson>(["build", "app", "--jobs", "1"], { cwd: dir, env });
  assert.deepEqual(
    out.artifacts.map((a) => [a.target, a.platforms]),
    [["app", ["linux/amd64", "linux/arm64"]]],
  );
  const layout = join(dir, ".tug", "out", "oci");
  const index = await skopeoInspectRaw(`oci:${layout}:app`);
  assert.deepEqual(
    index.manifests?.map((m) => m.platform?.architecture),
    ["amd64", "arm64"],
  );
  // The arch layer of each platform differs (it holds the platform's name), and each app image
  // starts with the one of its own platform.
  const firstLayer = async (arch: string) =>
    (await skopeoInspectConfig(`oci:${layout}:app`, { extraArgs: ["--override-arch", arch] })).rootfs
      .diff_ids;
  const [amd64, arm64] = await Promise.all([firstLayer("amd64"), firstLayer("arm64")]);
  assert.equal(amd64.length, 2);
  assert.notEqual(amd64[0], arm64[0]);
  assert.equal(amd64[1], arm64[1], "the files layer is the same on both");
  const unpacked = await tempDir(t, "tug-e2e-graph-unpack-");
  await runTool("skopeo", ["copy", "--override-arch", "arm64", `oci:${layout}:app`, `oci:${unpacked}:app`]);
  const manifest = await skopeoInspectRaw(`oci:${unpacked}:app`);
  const archLayer = manifest.layers?.[0]?.digest.replace("sha256:", "") ?? "";
  const listing = await runTool("tar", [
    "-xzOf",
    join(unpacked, "blobs", "sha256", archLayer),
    "etc/built-for/arch",
  ]);
  assert.equal(listing.stdout, "arm64\n");
});

test("pushed chain: the base image needs no registry, the registry base's layers are mounted, never uploaded", async (t) => {
  const registry = await startRegistry(t);
  const proxy = await startCountingProxy(t, registry.url);
  const busybox = await makeBusyboxBase(join(await tempDir(t, "tug-e2e-busybox-"), "layout"));
  await skopeoCopy(busybox.ref, `docker://${proxy.host}/base/busybox:1`);
  const baseLayers = ((await skopeoInspectRaw(`docker://${proxy.host}/base/busybox:1`)).layers ?? []).map(
    (l) => l.digest,
  );
  const dir = await tempDir(t, "tug-e2e-graph-push-");
  await writeTree(dir, {
    "tug.yaml": `images:
  page:
    builder: files
    context: ./page
    dest: /srv/page
    base: tug://site
  site:
    builder: files
    context: ./site
    dest: /srv/site
    base: ${proxy.host}/base/busybox:1
`,
    "page/p.txt": "page\n",
    "site/s.txt": "site\n",
  });
  proxy.reset();
  // Only the dependent is named: its base target is built in-process, never pushed or pulled.
  const out = await runTugJson<BuildJson>(["build", "page"], {
    cwd: dir,
    env: { TUG_CACHE: await tempDir(t, "tug-e2e-graph-cache-"), TUG_REPO: proxy.repo("demo") },
  });
  assert.deepEqual(
    out.artifacts.map((a) => a.target),
    ["page"],
  );
  const reqs = proxy.requests();
  assert.ok(!reqs.some((r) => r.path.startsWith("/v2/demo/site/")), "the base target was not pushed");
  const uploads = reqs.filter((r) => r.method === "PUT" && /\/blobs\/uploads\//.test(r.path));
  for (const l of baseLayers)
    assert.ok(!uploads.some((r) => decodeURIComponent(r.path).includes(l)), `base layer ${l} was uploaded`);
  const mounted = reqs.filter((r) => r.method === "POST" && /[?&]mount=/.test(r.path) && r.status === 201);
  assert.equal(mounted.length, baseLayers.length);

  const ref = `docker://${registry.repo("demo/page")}@${out.artifacts[0]!.digest}`;
  const manifest = await skopeoInspectRaw(ref);
  assert.deepEqual(
    manifest.layers?.slice(0, baseLayers.length).map((l) => l.digest),
    baseLayers,
  );
  assert.equal(manifest.layers?.length, baseLayers.length + 2);
  const cat = await podmanRun(ref, ["cat", "/srv/site/s.txt", "/srv/page/p.txt"]);
  assert.equal(cat.code, 0, cat.stderr);
  assert.equal(cat.stdout, "site\npage\n");
});
