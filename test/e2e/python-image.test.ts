import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { build, loadProject } from "../../src/index.ts";
import { elfHeader, elfMachine } from "../lambda/support/fixture-index.ts";
import { pythonWheelIndex } from "../lambda/support/python-wheels.ts";
import { type Base, makePythonBase } from "../support/bases.ts";
import { type RecordedRequest, startCountingProxy } from "../support/counting-proxy.ts";
import { writePythonImageYaml } from "../support/python-image-yaml.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { podmanRun, podmanRunDetached, runTool, skopeoInspectRaw, waitForHttp } from "../support/tools.ts";

// The host's CPython as a base image: made once per file (and cached across runs by bases.ts).
let pythonBase: ReturnType<typeof makePythonBase> | undefined;
const python = () => {
  pythonBase ??= makePythonBase();
  return pythonBase;
};

const SERVER = (reply: string) => `import http.server
import greeting
from local import LOCAL

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{greeting.VALUE} {LOCAL} ${reply}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
`;

async function project(
  t: TestContext,
  base: Base & { version: string; glibc: string },
  opts: { extra?: string; baseRef?: string; versions?: string } = {},
) {
  const indexRoot = await tempDir(t, "tug-py-idx-");
  const index = await pythonWheelIndex(indexRoot, [
    {
      name: "greeting",
      version: "1.0",
      files: { "greeting/__init__.py": 'VALUE = "wheel-one"\ndef main():\n    print("greet", VALUE)\n' },
      distInfo: { "entry_points.txt": "[console_scripts]\ngreet = greeting:main\n" },
      metadata: ["License-Expression: MIT"],
    },
    { name: "greeting", version: "2.0", files: { "greeting/__init__.py": 'VALUE = "wheel-two"\n' } },
    // Picked only when tug knows the base's CPython and glibc; the generic one otherwise.
    {
      name: "pick",
      version: "1.0",
      tag: `cp${base.version.split(".").slice(0, 2).join("")}-cp${base.version.split(".").slice(0, 2).join("")}-manylinux_${base.glibc.replace(".", "_")}_x86_64`,
      files: { "pick/__init__.py": 'VALUE = "for-this-base"\n' },
    },
    { name: "pick", version: "1.0", files: { "pick/__init__.py": 'VALUE = "generic"\n' } },
    {
      name: "native",
      version: "1.0",
      tag: "py3-none-manylinux_2_17_x86_64",
      files: { "native/__init__.py": 'ARCH = "x86_64"\n', "native/_core.so": elfHeader("x86_64") },
      metadata: ["Classifier: License :: OSI Approved :: ISC License (ISCL)"],
    },
    {
      name: "native",
      version: "1.0",
      tag: "py3-none-manylinux_2_17_aarch64",
      files: { "native/__init__.py": 'ARCH = "aarch64"\n', "native/_core.so": elfHeader("aarch64") },
      metadata: ["Classifier: License :: OSI Approved :: ISC License (ISCL)"],
    },
  ]);
  const dir = await tempDir(t, "tug-py-proj-");
  await writePythonImageYaml(dir, base, {
    index,
    module: "server",
    ...(opts.baseRef ? { baseRef: opts.baseRef } : {}),
    ...(opts.versions !== undefined ? { versions: opts.versions } : {}),
    extra: `    source_roots: [src]\n    ports: [8080]\n${opts.extra ?? ""}`,
  });
  await mkdir(join(dir, "src"));
  await writeFile(join(dir, "src", "server.py"), SERVER("v1"));
  await writeFile(join(dir, "src", "local.py"), 'LOCAL = "first-party"\n');
  await writeFile(join(dir, "requirements.txt"), "greeting==1.0\n");
  const wheels = join(indexRoot, "files");
  return { dir, file: join(dir, "tug.yaml"), cache: await tempDir(t, "tug-py-cache-"), wheels };
}

const isBlobUploadPut = (r: RecordedRequest) => r.method === "PUT" && /\/blobs\/uploads\//.test(r.path);
const uploadedDigest = (r: RecordedRequest) =>
  decodeURIComponent(/[?&]digest=([^&]+)/.exec(r.path)?.[1] ?? "");

test("python service on the host's CPython: serves the wheel's value; an edit pushes only the app layer; requirements rebuild deps", async (t) => {
  const registry = await startRegistry(t);
  const proxy = await startCountingProxy(t, registry.url);
  const p = await project(t, await python());
  const proj = await loadProject(p.file);
  const first = (await build(proj, { repo: proxy.repo("py"), cacheDir: p.cache, sbom: "none" }))
    .artifacts[0]!;
  const ref = (digest: string) => `docker://${registry.repo("py/svc")}@${digest}`;
  const layersOf = async (digest: string) =>
    ((await skopeoInspectRaw(ref(digest))).layers ?? []).map((l) => l.digest);
  const firstLayers = await layersOf(first.digest);

  const box = await podmanRunDetached(t, ref(first.digest), [], { publish: [8080] });
  const res = await waitForHttp(`http://127.0.0.1:${box.ports[8080]}/`, { timeoutMs: 60_000 });
  assert.equal(res.status, 200, await box.logs());
  assert.equal(res.body, "wheel-one first-party v1\n");
  await box.stop();
  // The generated console-script launcher runs in the image with its python3 and PYTHONPATH.
  const script = await podmanRun(ref(first.digest), [], { entrypoint: "/app/bin/greet" });
  assert.equal(script.stdout, "greet wheel-one\n", script.stderr);

  // A source edit: a new app layer (the last), the same deps layer, and only it and the config go
  // up (the image's own blobs: the SBOM, which would add one, is off here; see image-sbom tests).
  await writeFile(join(p.dir, "src", "server.py"), SERVER("v2"));
  proxy.reset();
  const edited = (await build(proj, { repo: proxy.repo("py"), cacheDir: p.cache, sbom: "none" }))
    .artifacts[0]!;
  const editedLayers = await layersOf(edited.digest);
  assert.equal(editedLayers.length, firstLayers.length);
  assert.deepEqual(editedLayers.slice(0, -1), firstLayers.slice(0, -1), "base and deps layers unchanged");
  assert.notEqual(editedLayers.at(-1), firstLayers.at(-1));
  const uploaded = proxy.requests().filter(isBlobUploadPut).map(uploadedDigest);
  const config = (await skopeoInspectRaw(ref(edited.digest))).config!.digest;
  assert.deepEqual(
    uploaded.sort(),
    [config, editedLayers.at(-1)!].sort(),
    "only the app layer and the config",
  );

  // A requirements change: a new deps layer, and the running service shows the other wheel.
  await writeFile(join(p.dir, "requirements.txt"), "greeting==2.0\n");
  const bumped = (await build(proj, { repo: proxy.repo("py"), cacheDir: p.cache, sbom: "none" }))
    .artifacts[0]!;
  const bumpedLayers = await layersOf(bumped.digest);
  assert.notEqual(bumpedLayers.at(-2), editedLayers.at(-2), "the deps layer is rebuilt");
  assert.deepEqual(bumpedLayers.slice(0, -2), editedLayers.slice(0, -2), "the base is not");
  const box2 = await podmanRunDetached(t, ref(bumped.digest), [], { publish: [8080] });
  const res2 = await waitForHttp(`http://127.0.0.1:${box2.ports[8080]}/`, { timeoutMs: 60_000 });
  assert.equal(res2.body, "wheel-two first-party v2\n", await box2.logs());
  await box2.stop();
});

test("multi-platform python image: each platform's deps layer holds that platform's wheel", async (t) => {
  const registry = await startRegistry(t);
  // On scratch (the host's CPython is one platform only): nothing runs here, so no python3 is needed.
  const p = await project(t, await python(), {
    baseRef: "scratch",
    extra: "    platforms: [linux/amd64, linux/arm64]\n    entrypoint_check: false\n",
  });
  await writeFile(join(p.dir, "requirements.txt"), "greeting==1.0\nnative==1.0\n");
  const built = (await build(await loadProject(p.file), { repo: registry.repo("py"), cacheDir: p.cache }))
    .artifacts[0]!;
  const index = (await skopeoInspectRaw(`docker://${registry.repo("py/svc")}@${built.digest}`)) as {
    manifests?: Array<{ digest: string; platform?: { architecture: string } }>;
  };
  const arches = new Map<string, string>();
  for (const m of index.manifests ?? []) {
    const manifest = await skopeoInspectRaw(`docker://${registry.repo("py/svc")}@${m.digest}`);
    const deps = manifest.layers?.at(-2)?.digest ?? "";
    // The deps layer's bytes, fetched from the registry and read by tar (an independent reader).
    const dir = await tempDir(t, "tug-py-layer-");
    const blob = join(dir, "deps.tar.gz");
    const url = `${registry.url}/v2/py/svc/blobs/${deps}`;
    await writeFile(blob, Buffer.from(await (await fetch(url)).arrayBuffer()));
    const listing = (await runTool("tar", ["-tzf", blob])).stdout;
    assert.match(listing, /app\/site-packages\/native\/__init__\.py/);
    const so = execFileSync("tar", ["-xzOf", blob, "app/site-packages/native/_core.so"]);
    arches.set(m.platform?.architecture ?? "?", elfMachine(so));
    assert.match(listing, /native-1\.0\.dist-info\/WHEEL/);
    // The platform image's SBOM (behind the referrers tag) lists both distributions with the
    // licenses their METADATA declares (License-Expression; a classifier mapped to its SPDX id).
    const tag = (await skopeoInspectRaw(
      `docker://${registry.repo("py/svc")}:${m.digest.replace(":", "-")}`,
    )) as unknown as { manifests: Array<{ digest: string }> };
    const referrer = await skopeoInspectRaw(
      `docker://${registry.repo("py/svc")}@${tag.manifests[0]?.digest}`,
    );
    const doc = (await (
      await fetch(`${registry.url}/v2/py/svc/blobs/${referrer.layers?.[0]?.digest}`)
    ).json()) as {
      packages: Array<{
        name: string;
        versionInfo?: string;
        licenseDeclared: string;
        externalRefs?: unknown[];
        packageFileName?: string;
        checksums?: Array<{ algorithm: string; checksumValue: string }>;
      }>;
    };
    // Each distribution names the wheel file this platform's layer was installed from, with that
    // file's sha256 (the arm64 image's native is the aarch64 wheel).
    const arch = m.platform?.architecture === "arm64" ? "aarch64" : "x86_64";
    for (const q of doc.packages.filter((x) => JSON.stringify(x.externalRefs ?? []).includes("pkg:pypi/"))) {
      const file = q.packageFileName ?? "";
      if (q.name === "native") assert.match(file, new RegExp(`manylinux_2_17_${arch}\\.whl$`));
      const sha = createHash("sha256")
        .update(await readFile(join(p.wheels, file)))
        .digest("hex");
      assert.deepEqual(q.checksums, [{ algorithm: "SHA256", checksumValue: sha }], `${q.name} ${arch}`);
    }
    assert.deepEqual(
      doc.packages
        .filter((q) => JSON.stringify(q.externalRefs ?? []).includes("pkg:pypi/"))
        .map((q) => [q.name, q.versionInfo, q.licenseDeclared]),
      [
        ["greeting", "1.0", "MIT"],
        ["native", "1.0", "ISC"],
      ],
    );
  }
  assert.deepEqual(Object.fromEntries(arches), { amd64: "x86_64", arm64: "aarch64" });
});

test("python_version and glibc left out: read from the base (python3's name, libc.so.6), so its best wheel is picked; a contradiction is refused", async (t) => {
  const registry = await startRegistry(t);
  const base = await python();
  const p = await project(t, base, { versions: "" });
  await writeFile(join(p.dir, "requirements.txt"), "pick==1.0\n");
  const built = (
    await build(await loadProject(p.file), { repo: registry.repo("py"), cacheDir: p.cache, sbom: "none" })
  ).artifacts[0]!;
  const manifest = await skopeoInspectRaw(`docker://${registry.repo("py/svc")}@${built.digest}`);
  const dir = await tempDir(t, "tug-py-layer-");
  const blob = join(dir, "deps.tar.gz");
  const url = `${registry.url}/v2/py/svc/blobs/${manifest.layers?.at(-2)?.digest}`;
  await writeFile(blob, Buffer.from(await (await fetch(url)).arrayBuffer()));
  const init = execFileSync("tar", ["-xzOf", blob, "app/site-packages/pick/__init__.py"]).toString();
  assert.equal(init, 'VALUE = "for-this-base"\n', `the cp/manylinux_${base.glibc} wheel of the base`);

  const [major, minor] = base.version.split(".").map(Number);
  const other = `${major}.${minor! + 1}`;
  const wrong = await project(t, base, { versions: `    python_version: "${other}"\n` });
  await assert.rejects(
    build(await loadProject(wrong.file), { repo: registry.repo("py"), cacheDir: wrong.cache, sbom: "none" }),
    (e: Error) => {
      assert.match(
        e.message,
        new RegExp(
          `python_version is ${other.replace(".", "\\.")} but the base's python3 is ${major}\\.${minor}`,
        ),
      );
      return true;
    },
  );
  const tooNew = await project(t, base, { versions: '    glibc: "2.99"\n' });
  await assert.rejects(
    build(await loadProject(tooNew.file), {
      repo: registry.repo("py"),
      cacheDir: tooNew.cache,
      sbom: "none",
    }),
    /glibc is set to 2\.99 but the base has glibc \d/,
  );
});
