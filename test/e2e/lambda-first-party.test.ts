// First-party files a Python lambda needs beyond what its import statements name: the parent
// packages' __init__.py (Python runs them before any submodule), submodules named in relative
// `from` imports, package data read through importlib.resources or __file__, and modules loaded
// by a computed name (`include:`). Each is checked by running the handler with `tug invoke`, and
// the zip's names are read back with python3's zipfile.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdir, rename, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type TestContext, test } from "node:test";
import { promisify } from "node:util";
import type { PyWheel } from "../lambda/support/python-wheels.ts";
import {
  type BuiltLambda,
  buildWheelProject,
  invokeWheelProject,
  type WheelProject,
  wheelProject,
} from "../lambda/support/wheel-project.ts";
import { runTug, runTugJson } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";

const run = promisify(execFile);

const WHEELS: PyWheel[] = [
  { name: "alpha", version: "1.0", files: { "alpha/__init__.py": "VALUE = 'alpha'\n" }, topLevel: ["alpha"] },
];

const FILES: Record<string, string> = {
  "requirements.txt": "alpha\n",
  "src/app/__init__.py": 'import os\nos.environ["APP_INIT"] = "yes"\nfrom .util import helper\n',
  "src/app/util.py": "import alpha\n\n\ndef helper():\n    return alpha.VALUE\n",
  // 1. only relative imports: app/__init__.py must come along and run.
  "src/app/h_rel.py":
    'import os\nfrom .util import helper\n\n\ndef handler(event, context):\n    return {"helper": helper(), "init": os.environ.get("APP_INIT", "no")}\n',
  // 2. submodules named in `from . import`, `from .pkg import`, and `from .. import`.
  "src/app/sub.py": "NAME = 'sub'\n",
  "src/app/pkg/__init__.py": "",
  "src/app/pkg/mod.py": "NAME = 'mod'\n",
  "src/app/pkg/other.py": "NAME = 'other'\n",
  "src/app/pkg/deep/__init__.py": "",
  "src/app/pkg/deep/leaf.py": "from .. import other\n\nNAME = 'leaf+' + other.NAME\n",
  "src/app/h_sub.py":
    "from . import sub\nfrom .pkg import mod\nfrom .pkg.deep import leaf\n\n\ndef handler(event, context):\n    return [sub.NAME, mod.NAME, leaf.NAME]\n",
  // 3. package data, read both ways.
  "src/app/data/schema.json": '{"v": 1}\n',
  "src/app/data/nested/more.txt": "more\n",
  "src/app/h_data.py": [
    "import json",
    "from importlib import resources",
    "from pathlib import Path",
    "",
    "",
    "def handler(event, context):",
    '    a = json.loads(resources.files("app").joinpath("data/schema.json").read_text())',
    '    b = (Path(__file__).parent / "data" / "nested" / "more.txt").read_text().strip()',
    '    return {"v": a["v"], "more": b}',
    "",
  ].join("\n"),
  // 4. a module loaded by a computed name: only `include:` can bring it.
  "src/app/plugins/__init__.py": "",
  "src/app/plugins/p1.py": "from ..sub import NAME as SUB\n\nNAME = 'plugin-1+' + SUB\n",
  "src/app/h_plug.py":
    'import importlib\n\n\ndef handler(event, context):\n    return importlib.import_module("app.plugins." + event.get("plugin", "p1")).NAME\n',
  // Never shipped: byte code, ignored files, and files outside every imported package.
  "src/app/__pycache__/util.cpython-311.pyc": "not byte code\n",
  "src/app/data/scratch.tmp": "ignored\n",
  ".gitignore": "*.tmp\n",
  ".tugignore": "src/app/data/private.json\n",
  "src/app/data/private.json": "{}\n",
  "src/notes.txt": "not in a package\n",
  "src/other/x.json": "{}\n",
};

async function project(t: TestContext): Promise<WheelProject> {
  return wheelProject(t, "tug-first-party-", {
    wheels: WHEELS,
    files: FILES,
    python: "  requirements: requirements.txt\n  source_roots: [src]\n",
    lambdas: {
      rel: "{ runtime: python3.11, handler: src/app/h_rel.py:handler }",
      sub: "{ runtime: python3.11, handler: src/app/h_sub.py:handler }",
      data: "{ runtime: python3.11, handler: src/app/h_data.py:handler }",
      plug: "{ runtime: python3.11, handler: src/app/h_plug.py:handler, include: [src/app/plugins/*.py, src/app/plugins/p1.py] }",
    },
  });
}

/** The zip's file names, as python3's zipfile reads them (an independent reader). */
async function zipNames(path: string): Promise<string[]> {
  const { stdout } = await run("python3", [
    "-c",
    "import json, sys, zipfile; print(json.dumps(sorted(n for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.startswith('app/'))))",
    path,
  ]);
  return JSON.parse(stdout) as string[];
}

async function put(p: WheelProject, path: string, text: string): Promise<void> {
  await mkdir(dirname(join(p.dir, path)), { recursive: true });
  await writeFile(join(p.dir, path), text);
}

const built = (m: Map<string, BuiltLambda>, name: string) => m.get(name)?.path as string;

test("parent packages, relative submodule imports, package data and include: are in the zip and work", async (t) => {
  const p = await project(t);
  const out = await buildWheelProject(p);

  assert.deepEqual(await invokeWheelProject(p, "rel"), { helper: "alpha", init: "yes" });
  assert.deepEqual(await zipNames(built(out, "rel")), [
    "app/__init__.py",
    "app/data/nested/more.txt",
    "app/data/schema.json",
    "app/h_rel.py",
    "app/util.py",
  ]);

  assert.deepEqual(await invokeWheelProject(p, "sub"), ["sub", "mod", "leaf+other"]);
  const sub = await zipNames(built(out, "sub"));
  for (const f of ["app/sub.py", "app/pkg/__init__.py", "app/pkg/mod.py", "app/pkg/deep/__init__.py"])
    assert.ok(sub.includes(f), `${f} in ${sub.join(", ")}`);
  assert.ok(sub.includes("app/pkg/other.py"), "from .. import other");

  assert.deepEqual(await invokeWheelProject(p, "data"), { v: 1, more: "more" });
  const data = await zipNames(built(out, "data"));
  assert.ok(
    !data.some((n) => n.includes("__pycache__") || n.endsWith(".tmp") || n.endsWith("private.json")),
    data.join(", "),
  );
  assert.ok(!data.some((n) => n.startsWith("app/plugins/")), "an unimported subpackage stays out");

  assert.equal(await invokeWheelProject(p, "plug"), "plugin-1+sub");
  const plug = await zipNames(built(out, "plug"));
  // p1's own imports are followed: app/sub.py comes with it.
  for (const f of ["app/plugins/__init__.py", "app/plugins/p1.py", "app/sub.py"])
    assert.ok(plug.includes(f), f);

  // setuptools' own answer (package_data "**/*", as include_package_data ships a checkout): every
  // file it installs inside a package whose __init__.py a zip holds is in that zip, except what the
  // ignore files exclude (setuptools does not read them).
  const shipped = await setuptoolsFiles(t, join(p.dir, "src"));
  const ignored = (f: string) => f.endsWith(".tmp") || f.endsWith("private.json");
  for (const name of ["rel", "sub", "data", "plug"]) {
    const zip = await zipNames(built(out, name));
    const packages = zip
      .filter((f) => f.endsWith("/__init__.py"))
      .map((f) => f.slice(0, -"__init__.py".length));
    const ownPackage = (f: string) =>
      packages.filter((pkg) => f.startsWith(pkg)).sort((a, b) => b.length - a.length)[0];
    // A file belongs to the innermost package holding it; subpackages not in the zip bring nothing.
    const inside = (f: string) => {
      const pkg = ownPackage(f);
      if (pkg === undefined) return false;
      const rest = f.slice(pkg.length).split("/").slice(0, -1);
      return rest.every((_, i) => !shipped.includes(`${pkg}${rest.slice(0, i + 1).join("/")}/__init__.py`));
    };
    const expected = shipped.filter((f) => !f.endsWith(".py") && !ignored(f) && inside(f));
    assert.deepEqual(
      zip.filter((f) => !f.endsWith(".py")),
      expected,
      `${name}: data files as setuptools ships them`,
    );
  }
});

/** The files `setup.py build` puts in build/lib for the packages under `src` (sorted, app/ only). */
async function setuptoolsFiles(t: TestContext, src: string): Promise<string[]> {
  const work = await tempDir(t, "tug-setuptools-");
  await cp(src, join(work, "src"), { recursive: true });
  await writeFile(
    join(work, "setup.py"),
    'from setuptools import setup, find_packages\nsetup(name="app", version="1", packages=find_packages("src"), package_dir={"": "src"}, package_data={"": ["**/*"]}, exclude_package_data={"": ["__pycache__/*", "*.pyc"]})\n',
  );
  await run("python3", ["setup.py", "-q", "build", "--build-lib", join(work, "out")], { cwd: work });
  const { stdout } = await run("find", [".", "-type", "f"], { cwd: join(work, "out") });
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("./app/"))
    .map((l) => l.slice(2))
    .sort();
}

test("a data file edit or a new data file rebuilds; a file outside the packages does not", async (t) => {
  const p = await project(t);
  await buildWheelProject(p);
  const cached = async () => {
    const r = await runTugJson<{ artifacts: Array<{ target: string; cached: boolean }> }>(["build"], {
      cwd: p.dir,
      env: p.env,
    });
    return Object.fromEntries(r.artifacts.map((a) => [a.target, a.cached]));
  };
  assert.deepEqual(await cached(), { rel: true, sub: true, data: true, plug: true });

  await put(p, "src/notes.txt", "edited\n");
  await put(p, "src/other/y.json", "{}\n");
  assert.deepEqual(await cached(), { rel: true, sub: true, data: true, plug: true });

  await put(p, "src/app/data/schema.json", '{"v": 2}\n');
  const afterEdit = await cached();
  assert.equal(afterEdit.data, false);
  assert.deepEqual(await invokeWheelProject(p, "data"), { v: 2, more: "more" });

  await put(p, "src/app/data/nested/new.txt", "new\n");
  assert.equal((await cached()).data, false);
  const out = await buildWheelProject(p);
  assert.ok((await zipNames(built(out, "data"))).includes("app/data/nested/new.txt"));

  // A new plugin matching the include glob is a new input too.
  await put(p, "src/app/plugins/p2.py", "NAME = 'plugin-2'\n");
  assert.equal((await cached()).plug, false);
  const r = await runTug(["invoke", "plug", "--event", '{"plugin": "p2"}'], { cwd: p.dir, env: p.env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), "plugin-2");
});

test("a link in a package directory that leads out of the project fails the build, naming it", async (t) => {
  const p = await wheelProject(t, "tug-first-party-", {
    wheels: WHEELS,
    files: {
      "app/__init__.py": "",
      "app/fn.py": "def handler(event, context):\n    return 1\n",
      "outside.txt": "secret\n",
    },
    lambdas: { fn: "{ runtime: python3.11, handler: app/fn.py:handler }" },
  });
  // The project's parent is the test's temp root: the link target is outside the project.
  await rename(join(p.dir, "outside.txt"), join(p.dir, "..", "outside.txt"));
  await symlink(join(p.dir, "..", "outside.txt"), join(p.dir, "app", "data.txt"));
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /symlink app\/data\.txt points outside the project/);
});

test("an include: glob that matches nothing is an error naming it", async (t) => {
  const p = await wheelProject(t, "tug-first-party-", {
    wheels: WHEELS,
    files: { "fn.py": "def handler(event, context):\n    return 1\n" },
    lambdas: { fn: "{ runtime: python3.11, handler: fn.py:handler, include: [plugins/*.py] }" },
  });
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /include: plugins\/\*\.py matches no file/);
  const outside = await wheelProject(t, "tug-first-party-", {
    wheels: WHEELS,
    files: { "fn.py": "def handler(event, context):\n    return 1\n" },
    lambdas: { fn: "{ runtime: python3.11, handler: fn.py:handler, include: [../secrets/*] }" },
  });
  const e = await runTug(["build"], { cwd: outside.dir, env: outside.env });
  assert.notEqual(e.code, 0);
  assert.match(e.stderr, /relative to the directory of tug\.yaml/);
});
