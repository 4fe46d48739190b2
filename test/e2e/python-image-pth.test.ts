// A wheel's `.pth` file takes effect in a python image as it does after `pip install` into a
// venv: /app/site-packages is a site directory (a `.pth` in the base's own site directory adds it
// with site.addsitedir), not only a PYTHONPATH entry, whose `.pth` files Python never reads.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { build, loadProject } from "../../src/index.ts";
import { pythonWheelIndex } from "../lambda/support/python-wheels.ts";
import { makePythonBase } from "../support/bases.ts";
import { writePythonImageYaml } from "../support/python-image-yaml.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { podmanRun, runTool } from "../support/tools.ts";

// The hook counts its runs: a `.pth` read twice (two site directories) would show "xx".
const WHEEL = {
  name: "hooked",
  version: "1.0",
  files: {
    "hooked/__init__.py": "VALUE = 'hooked'\n",
    "hooked_hook.py": "import os\nos.environ['HOOKED'] = os.environ.get('HOOKED', '') + 'x'\n",
    "hooked.pth": "import hooked_hook\nhooked_extra\n",
    "hooked_extra/bonus.py": "VALUE = 'bonus'\n",
  },
};

const MAIN = `import os, sys
import hooked, bonus
site_packages = sys.path.index("/app/site-packages") if "/app/site-packages" in sys.path else None
stdlib = next(i for i, p in enumerate(sys.path) if p.endswith("/lib/python%d.%d" % sys.version_info[:2]))
print(hooked.VALUE, bonus.VALUE, os.environ.get("HOOKED"), site_packages is not None and site_packages < stdlib)
`;

test("a wheel's .pth file runs in the image as after pip install into a venv, once, with /app/site-packages before the stdlib", async (t) => {
  const base = await makePythonBase();
  const indexRoot = await tempDir(t, "tug-pth-idx-");
  const index = await pythonWheelIndex(indexRoot, [WHEEL]);
  const dir = await tempDir(t, "tug-pth-proj-");
  await writePythonImageYaml(dir, base, { index, module: "main", extra: "    source_roots: [src]\n" });
  await mkdir(join(dir, "src"));
  await writeFile(join(dir, "src", "main.py"), MAIN);
  await writeFile(join(dir, "requirements.txt"), "hooked==1.0\n");

  // pip's own result: a venv on the host's python3 with the same wheel from the same index.
  const venv = join(await tempDir(t, "tug-pth-venv-"), "venv");
  await runTool("python3", ["-m", "venv", venv]);
  const pip = await runTool(join(venv, "bin", "pip"), [
    "install",
    "--no-index",
    "--find-links",
    join(indexRoot, "files"),
    "hooked==1.0",
  ]);
  assert.equal(pip.code, 0, pip.stderr);
  const host = await runTool(join(venv, "bin", "python"), [
    "-c",
    "import hooked, bonus, os; print(hooked.VALUE, bonus.VALUE, os.environ.get('HOOKED'))",
  ]);
  assert.equal(host.stdout, "hooked bonus x\n", host.stderr);

  const registry = await startRegistry(t);
  const proj = await loadProject(join(dir, "tug.yaml"));
  const cache = await tempDir(t, "tug-pth-cache-");
  const built = (await build(proj, { repo: registry.repo("pth"), cacheDir: cache, sbom: "none" }))
    .artifacts[0]!;
  const out = await podmanRun(`docker://${registry.repo("pth/svc")}@${built.digest}`, []);
  assert.equal(out.stdout, "hooked bonus x True\n", out.stderr);
});
