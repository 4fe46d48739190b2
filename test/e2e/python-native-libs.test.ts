// A Python image whose wheel's extension needs a shared library: with the library vendored the way
// auditwheel does (PKG.libs, $ORIGIN run path) the image builds and the extension runs in podman;
// without it anywhere in the image the build is refused, naming the extension and the library.
import assert from "node:assert/strict";
import { access, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { auditwheelBuild, HELPER_LIB } from "../lambda/support/auditwheel-build.ts";
import { localPython } from "../lambda/support/fixture-index.ts";
import { pythonWheelIndex } from "../lambda/support/python-wheels.ts";
import { makePythonBase } from "../support/bases.ts";
import { runTug } from "../support/cli.ts";
import { startNginxDav } from "../support/nginx-dav.ts";
import { writePythonImageYaml } from "../support/python-image-yaml.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { podmanRun } from "../support/tools.ts";

async function project(t: TestContext) {
  const py = await localPython();
  const base = await makePythonBase();
  const { ext, lib, so } = await auditwheelBuild(await tempDir(t, "tug-gcc-"), py, "RUNPATH");
  const tag = `${py.tag}-${py.tag}-manylinux_2_17_${py.machine}`;
  const init = "from mypkg._native import answer\n";
  const index = await pythonWheelIndex(await tempDir(t, "tug-py-idx-"), [
    // As auditwheel repairs it: the library the extension links is in the wheel.
    {
      name: "mypkg",
      version: "1.0",
      tag,
      files: { "mypkg/__init__.py": init, [`mypkg/${ext}`]: so, [`mypkg.libs/${HELPER_LIB}`]: lib },
    },
    // Not repaired: the extension links a library that neither the wheel nor the base has.
    { name: "mypkg", version: "2.0", tag, files: { "mypkg/__init__.py": init, [`mypkg/${ext}`]: so } },
  ]);
  const dir = await tempDir(t, "tug-py-native-");
  await writePythonImageYaml(dir, base, { index, module: "app" });
  await mkdir(join(dir, "app"));
  await writeFile(join(dir, "app", "__main__.py"), "import mypkg\nprint('answer', mypkg.answer(20))\n");
  await writeFile(join(dir, "requirements.txt"), "mypkg==1.0\n");
  return { dir, env: { TUG_CACHE: await tempDir(t, "tug-cache-") }, ext };
}

test("an extension's shared library: vendored in the wheel it runs; missing from the image the build is refused", async (t) => {
  const registry = await startRegistry(t);
  const p = await project(t);
  const args = ["build", "svc", "--repo", registry.repo("native"), "--sbom", "none"];
  const ok = await runTug(args, { cwd: p.dir, env: p.env });
  assert.equal(ok.code, 0, ok.stderr);
  const run = await podmanRun(`docker://${registry.repo("native/svc")}:latest`, []);
  assert.equal(run.stdout, "answer 42\n", run.stderr);

  await writeFile(join(p.dir, "requirements.txt"), "mypkg==2.0\n");
  const refused = await runTug(args, { cwd: p.dir, env: p.env });
  assert.notEqual(refused.code, 0, "an image whose extension cannot load is refused");
  assert.match(
    refused.stderr,
    new RegExp(
      `cannot load /app/site-packages/mypkg/${p.ext.replace(/\./g, "\\.")}: it needs ${HELPER_LIB.replace(/\./g, "\\.")}, which is nowhere in the image`,
    ),
  );
  assert.match(refused.stderr, /the wheel installing mypkg links/);
});

test("the library check holds for a deps layer another machine built (its needs travel with the shared cache)", async (t) => {
  const dav = await startNginxDav(t);
  const p = await project(t);
  await writeFile(join(p.dir, "requirements.txt"), "mypkg==2.0\n");
  const env = { ...p.env, TUG_REMOTE_CACHE: dav.url };
  const args = ["build", "svc", "--sbom", "none"];
  const first = await runTug(args, { cwd: p.dir, env });
  assert.notEqual(first.code, 0);
  assert.match(first.stderr, /it needs libhelper/);
  // Another machine: an empty local cache, the same shared cache. The deps layer comes from it
  // (never built here), and the check still refuses the image.
  const cacheB = await tempDir(t, "tug-cache-b-");
  const other = await runTug(args, { cwd: p.dir, env: { ...env, TUG_CACHE: cacheB } });
  assert.notEqual(other.code, 0, other.stderr);
  await assert.rejects(access(join(cacheB, "ac", "layer-part")), "no wheel part was installed here");
  assert.match(other.stderr, /cannot load \/app\/site-packages\/mypkg\/.*: it needs libhelper/);
});
