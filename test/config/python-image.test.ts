import assert from "node:assert/strict";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { loadProject } from "../../src/config/index.ts";
import { TugError } from "../../src/errors.ts";
import { fixture } from "./fixture.ts";

const PY = `images:
  svc:
    builder: python
    module: app.main
    python_version: "3.12"
    source_roots: [src]
    index_url: https://pypi.example/simple/
`;

async function loadError(
  t: TestContext,
  yaml: string,
  files: Record<string, string> = {},
): Promise<TugError> {
  const dir = await fixture(t, { ...files, "tug.yaml": yaml });
  return loadProject(join(dir, "tug.yaml")).then(
    () => assert.fail("loadProject accepted an invalid tug.yaml"),
    (e: unknown) => {
      assert.ok(e instanceof TugError, `expected a TugError, got ${String(e)}`);
      return e;
    },
  );
}

test("a python image normalises: absolute paths, python version, glibc left to the base, requirements when present", async (t) => {
  const dir = await fixture(t, { "tug.yaml": PY, "requirements.txt": "x\n", "src/app/main.py": "" });
  const target = (await loadProject(join(dir, "tug.yaml"))).targets[0];
  assert.ok(target?.builder === "python");
  assert.equal(target.module, "app.main");
  assert.equal(target.command, undefined);
  assert.deepEqual(target.python, [3, 12]);
  assert.equal(target.pythonFullVersion, undefined, "no patch given: the base's, read at build");
  assert.equal(target.glibc, undefined, "read from the base's libc.so.6 at build");
  assert.equal(target.requirements, join(dir, "requirements.txt"));
  assert.deepEqual(target.sourceRoots, [join(dir, "src")]);
  assert.equal(target.indexUrl, "https://pypi.example/simple/");

  const bare = await fixture(t, { "tug.yaml": PY });
  const noReqs = (await loadProject(join(bare, "tug.yaml"))).targets[0];
  assert.ok(noReqs?.builder === "python" && noReqs.requirements === undefined, "no file, no dependencies");
});

test("a python image needs exactly one of module and command; python_version, when given, is X.Y or X.Y.Z", async (t) => {
  const both = await loadError(t, `${PY}    command: [python3, x.py]\n`);
  assert.match(both.what, /exactly one of module: .* and command:/);
  const neither = await loadError(t, PY.replace("    module: app.main\n", ""));
  assert.match(neither.what, /exactly one of module: .* and command:/);
  const noVersion = (
    await loadProject(
      join(await fixture(t, { "tug.yaml": PY.replace('    python_version: "3.12"\n', "") }), "tug.yaml"),
    )
  ).targets[0];
  assert.ok(noVersion?.builder === "python" && noVersion.python === undefined, "read from the base at build");
  const full = (
    await loadProject(join(await fixture(t, { "tug.yaml": PY.replace('"3.12"', '"3.12.4"') }), "tug.yaml"))
  ).targets[0];
  assert.ok(full?.builder === "python" && full.pythonFullVersion === "3.12.4");
  const badVersion = await loadError(t, PY.replace('"3.12"', '"python3"'));
  assert.match(badVersion.what, /CPython version like "3\.11"/);
});
