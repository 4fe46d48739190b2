// Acceptance tests for images: tug builds the demo project and real, independent tools (a Debian
// docker-registry, skopeo, umoci, podman) read, unpack and run what it made.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type ArtifactReport, build, loadProject } from "../../src/index.ts";
import { type Base, makeBusyboxBase, makeNodeBase } from "../support/bases.ts";
import { runTug, runTugJson } from "../support/cli.ts";
import { type RecordedRequest, startCountingProxy } from "../support/counting-proxy.ts";
import { requireArm64Emulation } from "../support/emulation.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import {
  listTree,
  podmanRun,
  podmanRunDetached,
  runTool,
  skopeoCopy,
  skopeoInspectConfig,
  skopeoInspectRaw,
  umociUnpack,
  waitForHttp,
} from "../support/tools.ts";

const DEMO = fileURLToPath(new URL("../../examples/demo", import.meta.url));

interface BuildJson {
  ms: number;
  artifacts: ArtifactReport[];
}

/** A fresh project dir holding copies of the demo parts named, plus `yaml` as its tug.yaml. */
async function project(t: TestContext, yaml: string, parts: Array<"hello" | "web" | "public">) {
  const dir = await tempDir(t, "tug-e2e-proj-");
  for (const p of parts) await cp(join(DEMO, p), join(dir, p), { recursive: true });
  await writeFile(join(dir, "tug.yaml"), yaml);
  const cache = await tempDir(t, "tug-e2e-cache-");
  return { dir, cache, file: join(dir, "tug.yaml") };
}

// The node base is ~100 MB: made once per file (and cached across runs by bases.ts).
let nodeBase: Promise<Base> | undefined;
const node = () => {
  nodeBase ??= makeNodeBase();
  return nodeBase;
};

/** Copies the node base into the registry behind `host` as base/node:20; returns its blob bytes. */
async function pushNodeBase(host: string): Promise<{ ref: string; bytes: number; layers: string[] }> {
  const base = await node();
  const ref = `${host}/base/node:20`;
  await skopeoCopy(base.ref, `docker://${ref}`);
  const manifest = await skopeoInspectRaw(`docker://${ref}`);
  const layers = (manifest.layers ?? []).map((l) => l.digest);
  const bytes = (manifest.layers ?? []).reduce((n, l) => n + l.size, 0);
  return { ref, bytes, layers };
}

const WEB_YAML = (baseRef: string) => `images:
  web:
    builder: node
    context: ./web
    entry: src/server.ts
    base: ${baseRef}
    env: { PORT: "8080" }
    ports: [8080]
`;

function sha256(data: string | Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

// ---- request classification (distribution's v2 API paths) -------------------------------------

const isBlobUploadPut = (r: RecordedRequest) => r.method === "PUT" && /\/blobs\/uploads\//.test(r.path);
const isBlobWrite = (r: RecordedRequest) =>
  /\/blobs\/uploads\//.test(r.path) && ["POST", "PUT", "PATCH"].includes(r.method);
const isMount = (r: RecordedRequest) => r.method === "POST" && /[?&]mount=/.test(r.path);
const isManifestPut = (r: RecordedRequest) => r.method === "PUT" && /\/manifests\//.test(r.path);
const uploadedDigest = (r: RecordedRequest) =>
  decodeURIComponent(/[?&]digest=([^&]+)/.exec(r.path)?.[1] ?? "");

function describe(reqs: RecordedRequest[]): string {
  return reqs.map((r) => `${r.method} ${r.path} → ${r.status}`).join("\n");
}

// -------------------------------------------------------------------------------------------------

test("Go hello on scratch: pushed, one layer, unpacks to /app/hello, runs", async (t) => {
  const registry = await startRegistry(t);
  const p = await project(
    t,
    `images:
  hello:
    builder: go
    context: ./hello
    base: scratch
`,
    ["hello"],
  );
  const result = await build(await loadProject(p.file), {
    repo: registry.repo("demo"),
    cacheDir: p.cache,
  });
  const [hello] = result.artifacts;
  assert.equal(hello?.target, "hello");
  assert.equal(hello?.ref, `${registry.repo("demo/hello")}@${hello?.digest}`);
  assert.equal(hello?.cached, false);

  const ref = `docker://${registry.repo("demo/hello")}:latest`;
  const manifest = await skopeoInspectRaw(ref);
  assert.equal(manifest.layers?.length, 1);
  const raw = (await runTool("skopeo", ["inspect", "--raw", "--tls-verify=false", ref])).stdout;
  assert.equal(sha256(raw), hello?.digest, "the tag names the digest tug reported");

  const work = await tempDir(t, "tug-e2e-unpack-");
  await skopeoCopy(ref, `oci:${join(work, "layout")}:latest`);
  const rootfs = await umociUnpack(join(work, "layout"), "latest", join(work, "bundle"));
  const tree = await listTree(rootfs);
  assert.ok(tree.includes("/app/hello"), tree.join("\n"));

  const run = await podmanRun(ref, []);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), "hello from tug");
});

test("files site on a busybox layout base: pushed, httpd in podman serves index.html", async (t) => {
  const registry = await startRegistry(t);
  const busybox = await makeBusyboxBase(join(await tempDir(t, "tug-e2e-busybox-"), "layout"));
  const p = await project(
    t,
    `images:
  site:
    builder: files
    context: ./public
    dest: /srv/www
    base: oci-layout:${busybox.layout}:latest
    entrypoint: ["/bin/httpd", "-f", "-p", "8080", "-h", "/srv/www"]
    ports: [8080]
`,
    ["public"],
  );
  const out = await runTugJson<BuildJson>(["build", "--repo", registry.repo("demo")], {
    cwd: p.dir,
    env: { TUG_CACHE: p.cache },
  });
  assert.equal(out.artifacts.length, 1);
  const ref = `docker://${registry.repo("demo/site")}:latest`;
  const manifest = await skopeoInspectRaw(ref);
  const baseManifest = await skopeoInspectRaw(busybox.ref);
  assert.equal(manifest.layers?.length, (baseManifest.layers?.length ?? 0) + 1);
  const config = await skopeoInspectConfig(ref);
  assert.deepEqual(config.config?.Entrypoint, ["/bin/httpd", "-f", "-p", "8080", "-h", "/srv/www"]);

  const box = await podmanRunDetached(t, ref, [], { publish: [8080] });
  const res = await waitForHttp(`http://127.0.0.1:${box.ports[8080]}/index.html`, { timeoutMs: 30_000 });
  assert.equal(res.status, 200, await box.logs());
  assert.equal(res.body, await readFile(join(DEMO, "public", "index.html"), "utf8"));
  await box.stop();
});

test("Node service on a registry Node base: base layers mounted, not uploaded; serves", async (t) => {
  const registry = await startRegistry(t);
  const proxy = await startCountingProxy(t, registry.url);
  const base = await pushNodeBase(proxy.host);
  const p = await project(t, WEB_YAML(base.ref), ["web"]);
  proxy.reset();
  const result = await build(await loadProject(p.file), { repo: proxy.repo("demo"), cacheDir: p.cache });
  const web = result.artifacts[0]!;
  const reqs = proxy.requests();

  // Every base layer went across by cross-repository mount; only tug's own blobs were uploaded.
  const mounted = reqs.filter((r) => isMount(r) && r.status === 201);
  assert.equal(mounted.length, base.layers.length, describe(reqs));
  const uploaded = reqs.filter(isBlobUploadPut).map(uploadedDigest);
  for (const l of base.layers) assert.ok(!uploaded.includes(l), `base layer ${l} was uploaded`);
  assert.ok(
    web.pushedBytes < base.bytes / 100,
    `pushed ${web.pushedBytes} bytes, the base is ${base.bytes} bytes`,
  );
  const manifest = await skopeoInspectRaw(`docker://${proxy.repo("demo/web")}:latest`);
  assert.deepEqual(
    manifest.layers?.slice(0, base.layers.length).map((l) => l.digest),
    base.layers,
  );
  // tug's two: the context's other files (package.json, the lockfile) and the bundle.
  assert.equal(manifest.layers?.length, base.layers.length + 2);

  const ref = `docker://${registry.repo("demo/web")}@${web.digest}`;
  const box = await podmanRunDetached(t, ref, [], { publish: [8080] });
  const res = await waitForHttp(`http://127.0.0.1:${box.ports[8080]}/`, { timeoutMs: 30_000 });
  assert.equal(res.status, 200, await box.logs());
  assert.equal(res.body, "hello from web\n");
  await box.stop();
});

test("multi-platform Go target: an OCI index with linux/amd64 and linux/arm64; arm64 runs under qemu", async (t) => {
  await requireArm64Emulation();
  const registry = await startRegistry(t);
  const p = await project(
    t,
    `images:
  hello:
    builder: go
    context: ./hello
    base: scratch
    platforms: [linux/amd64, linux/arm64]
`,
    ["hello"],
  );
  // Prints the architecture it was compiled for, so the run below shows which manifest podman took.
  await writeFile(
    join(p.dir, "hello", "main.go"),
    'package main\n\nimport (\n\t"fmt"\n\t"runtime"\n)\n\nfunc main() { fmt.Println("hello from tug on", runtime.GOARCH) }\n',
  );
  const out = await runTugJson<BuildJson>(["build", "--repo", registry.repo("demo")], {
    cwd: p.dir,
    env: { TUG_CACHE: p.cache },
  });
  assert.deepEqual(out.artifacts[0]?.platforms, ["linux/amd64", "linux/arm64"]);
  const index = await skopeoInspectRaw(`docker://${registry.repo("demo/hello")}:latest`);
  assert.equal(index.mediaType, "application/vnd.oci.image.index.v1+json");
  assert.equal(index.manifests?.length, 2);
  const platforms = (index.manifests ?? []).map((m) => `${m.platform?.os}/${m.platform?.architecture}`);
  assert.deepEqual(platforms.sort(), ["linux/amd64", "linux/arm64"]);
  for (const m of index.manifests ?? []) {
    const child = `docker://${registry.repo("demo/hello")}@${m.digest}`;
    const config = await skopeoInspectConfig(child);
    assert.equal(config.architecture, m.platform?.architecture);
    assert.equal((await skopeoInspectRaw(child)).layers?.length, 1);
  }
  const ref = `docker://${registry.repo("demo/hello")}:latest`;
  const arm = await podmanRun(ref, [], { extraArgs: ["--platform", "linux/arm64"] });
  assert.equal(arm.code, 0, arm.stderr);
  assert.equal(arm.stdout.trim(), "hello from tug on arm64");
});

test("warm rebuild after one edit uploads one layer, the config and the manifest", async (t) => {
  const registry = await startRegistry(t);
  const proxy = await startCountingProxy(t, registry.url);
  const base = await pushNodeBase(proxy.host);
  const p = await project(t, WEB_YAML(base.ref), ["web"]);
  const proj = await loadProject(p.file);
  // The image's own traffic; an SBOM's (one blob, two manifests) is counted in image-sbom.test.ts.
  const opts = { repo: proxy.repo("demo"), cacheDir: p.cache, sbom: "none" as const };
  const first = await build(proj, opts);
  assert.equal(first.artifacts[0]?.cached, false);

  const greeting = join(p.dir, "web", "src", "greeting.ts");
  await writeFile(greeting, (await readFile(greeting, "utf8")).replace("hello from web", "hello again"));
  proxy.reset();
  const second = await build(proj, opts);
  const web = second.artifacts[0]!;
  assert.equal(web.cached, false, "an edited source rebuilds the bundle layer");
  assert.notEqual(web.digest, first.artifacts[0]?.digest);

  const reqs = proxy.requests();
  const manifest = await skopeoInspectRaw(`docker://${registry.repo("demo/web")}@${web.digest}`);
  const layers = (manifest.layers ?? []).map((l) => l.digest);
  const uploaded = reqs.filter(isBlobUploadPut).map(uploadedDigest);
  assert.equal(uploaded.length, 2, describe(reqs));
  assert.ok(uploaded.includes(manifest.config!.digest), "the config was uploaded");
  assert.ok(uploaded.includes(layers.at(-1)!), "the new bundle layer was uploaded");
  // One upload session per new blob (a mount attempt that the registry answers 202 is one).
  assert.equal(reqs.filter((r) => r.method === "POST").length, 2, describe(reqs));
  assert.equal(reqs.filter((r) => r.method === "PATCH").length, 0, describe(reqs));
  // The base layers are in demo/web since the first push: a HEAD each, no mount.
  assert.equal(reqs.filter((r) => isMount(r) && r.status === 201).length, 0, describe(reqs));
  assert.equal(reqs.filter(isManifestPut).length, 1, describe(reqs));
  // This cache pushed another digest to the tag: no manifest HEAD before pushing the new one.
  assert.equal(
    reqs.filter((r) => r.method === "HEAD" && /demo\/web\/manifests\//.test(r.path)).length,
    0,
    describe(reqs),
  );
  assert.equal(web.pushedBytes, manifest.config!.size + manifest.layers!.at(-1)!.size);

  // Once more, unchanged: the report says cached.
  const third = await build(proj, opts);
  assert.equal(third.artifacts[0]?.cached, true);
  assert.equal(third.artifacts[0]?.digest, web.digest);
  assert.equal(third.artifacts[0]?.pushedBytes, 0);
});

test("no-op rebuild: one manifest HEAD per image, none with --trust-pushed", async (t) => {
  const registry = await startRegistry(t);
  const proxy = await startCountingProxy(t, registry.url);
  const busybox = await makeBusyboxBase(join(await tempDir(t, "tug-e2e-busybox-"), "layout"));
  const p = await project(
    t,
    `images:
  hello:
    builder: go
    context: ./hello
    base: scratch
  site:
    builder: files
    context: ./public
    dest: /srv/www
    base: oci-layout:${busybox.layout}:latest
`,
    ["hello", "public"],
  );
  const args = ["build", "--repo", proxy.repo("demo")];
  const opts = { cwd: p.dir, env: { TUG_CACHE: p.cache } };
  const first = await runTugJson<BuildJson>(args, opts);
  assert.equal(first.artifacts.length, 2);

  proxy.reset();
  const again = await runTugJson<BuildJson>(args, opts);
  const reqs = proxy.requests();
  assert.deepEqual(
    again.artifacts.map((a) => [a.target, a.digest, a.cached, a.pushedBytes]),
    first.artifacts.map((a) => [a.target, a.digest, true, 0]),
  );
  assert.equal(reqs.filter(isBlobWrite).length, 0, describe(reqs));
  const manifestReqs = reqs.filter((r) => /\/manifests\//.test(r.path));
  assert.ok(
    manifestReqs.every((r) => r.method === "HEAD"),
    describe(reqs),
  );
  for (const name of ["hello", "site"]) {
    assert.equal(manifestReqs.filter((r) => r.path.includes(`/demo/${name}/`)).length, 1, describe(reqs));
  }
  assert.ok(
    reqs.every((r) => /\/manifests\//.test(r.path) || r.path === "/v2/"),
    `only manifest HEADs (and the /v2/ ping): \n${describe(reqs)}`,
  );

  await runTugJson<BuildJson>([...args, "--trust-pushed"], opts); // records the pushes
  proxy.reset();
  const trusted = await runTugJson<BuildJson>([...args, "--trust-pushed"], opts);
  assert.deepEqual(proxy.requests(), []);
  assert.deepEqual(
    trusted.artifacts.map((a) => a.digest),
    first.artifacts.map((a) => a.digest),
  );
});

test("local outputs: OCI layout and docker tarballs; publish pushes the same digests", async (t) => {
  const registry = await startRegistry(t);
  const busybox = await makeBusyboxBase(join(await tempDir(t, "tug-e2e-busybox-"), "layout"));
  const p = await project(
    t,
    `images:
  hello:
    builder: go
    context: ./hello
    base: scratch
  web:
    builder: node
    context: ./web
    entry: src/server.ts
    base: scratch
    entrypoint_check: false # never run here; a node image on scratch cannot start
  site:
    builder: files
    context: ./public
    dest: /srv/www
    base: oci-layout:${busybox.layout}:latest
`,
    ["hello", "web", "public"],
  );
  const out = await runTugJson<BuildJson>(["build"], {
    cwd: p.dir,
    env: { TUG_CACHE: p.cache, TUG_REPO: undefined },
  });
  assert.deepEqual(out.artifacts.map((a) => a.target).sort(), ["hello", "site", "web"]);
  const layout = join(p.dir, ".tug", "out", "oci");
  for (const a of out.artifacts) {
    const raw = (await runTool("skopeo", ["inspect", "--raw", `oci:${layout}:${a.target}`])).stdout;
    assert.equal(sha256(raw), a.digest, `oci:${layout}:${a.target}`);
    const tarball = join(p.dir, ".tug", "out", `${a.target}.tar`);
    const inspected = JSON.parse(
      (await runTool("skopeo", ["inspect", `docker-archive:${tarball}`])).stdout,
    ) as { Layers: string[] };
    assert.ok(inspected.Layers.length >= 1, tarball);
  }
  const run = await podmanRun(`docker-archive:${join(p.dir, ".tug", "out", "hello.tar")}`, []);
  assert.equal(run.stdout.trim(), "hello from tug", run.stderr);

  const published = await runTugJson<BuildJson>(
    ["publish", "--from", layout, "hello", "web", "site", "--repo", registry.repo("demo")],
    { cwd: p.dir, env: { TUG_CACHE: p.cache } },
  );
  for (const a of out.artifacts) {
    const pub = published.artifacts.find((x) => x.target === a.target);
    assert.equal(pub?.digest, a.digest, a.target);
    const ref = `docker://${registry.repo(`demo/${a.target}`)}:latest`;
    const raw = (await runTool("skopeo", ["inspect", "--raw", "--tls-verify=false", ref])).stdout;
    assert.equal(sha256(raw), a.digest, `${ref} is the image that was built (and tested)`);
  }
});

test("tug explain names the edited file", async (t) => {
  const p = await project(
    t,
    `images:
  web:
    builder: node
    context: ./web
    entry: src/server.ts
    base: scratch
    entrypoint_check: false # never run here; a node image on scratch cannot start
`,
    ["web"],
  );
  const opts = { cwd: p.dir, env: { TUG_CACHE: p.cache, TUG_REPO: undefined } };
  await runTugJson<BuildJson>(["build"], opts);
  const clean = await runTug(["explain", "web"], opts);
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stdout, /up to date/);
  assert.doesNotMatch(clean.stdout, /changed/);

  const greeting = join(p.dir, "web", "src", "greeting.ts");
  await writeFile(greeting, (await readFile(greeting, "utf8")).replace("hello from web", "hi"));
  const r = await runTug(["explain", "web"], opts);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /would be rebuilt/);
  assert.match(r.stdout, /src\/greeting\.ts: changed/);
  assert.doesNotMatch(r.stdout, /server\.ts: changed/);
});

test("tug resolve replaces tug://web with the pushed digest and keeps comments", async (t) => {
  const registry = await startRegistry(t);
  const p = await project(
    t,
    `images:
  web:
    builder: node
    context: ./web
    entry: src/server.ts
    base: scratch
    entrypoint_check: false # never run here; a node image on scratch cannot start
`,
    ["web"],
  );
  await writeFile(
    join(p.dir, "k8s.yaml"),
    `# the web deployment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # keep me
spec:
  template:
    spec:
      containers:
        - name: web
          image: tug://web # resolved by tug
`,
  );
  const r = await runTug(["resolve", "-f", "k8s.yaml", "--repo", registry.repo("demo"), "-q"], {
    cwd: p.dir,
    env: { TUG_CACHE: p.cache },
  });
  assert.equal(r.code, 0, r.stderr);
  const m = /image: (\S+) # resolved by tug/.exec(r.stdout);
  assert.ok(m, r.stdout);
  const ref = m[1]!;
  assert.match(ref, new RegExp(`^${registry.repo("demo/web").replace(/\./g, "\\.")}@sha256:[0-9a-f]{64}$`));
  assert.match(r.stdout, /^# the web deployment$/m);
  assert.match(r.stdout, /name: web # keep me/);
  assert.doesNotMatch(r.stdout, /tug:\/\//);
  const raw = (await runTool("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${ref}`])).stdout;
  assert.equal(sha256(raw), ref.split("@")[1]);
});
