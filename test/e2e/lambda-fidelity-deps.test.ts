// Issue #10 items 1, 2, 3 and 6, end to end: which distributions a Python function gets. Wheels
// are written by python3's zipfile with the real structures (a namespace package split across
// distributions, a wheel without top_level.txt, a pip-compile lock, a tests package the package
// imports, an x86_64-only requirement); `tug invoke` runs the handler isolated, so a module the
// zip lacks really fails.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import test, { type TestContext } from "node:test";
import { promisify } from "node:util";
import type { PyWheel } from "../lambda/support/python-wheels.ts";
import {
  type BuiltLambda,
  buildWheelProject,
  invokeWheelProject,
  type WheelProject,
  type WheelProjectSpec,
  wheelProject,
} from "../lambda/support/wheel-project.ts";
import { type CliResult, runTug } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";

const exec = promisify(execFile);

type Built = BuiltLambda;
type Project = WheelProject;

const project = (t: TestContext, spec: WheelProjectSpec): Promise<Project> =>
  wheelProject(t, "tug-deps-", spec);
const build = buildWheelProject;

const versions = (a: Built | undefined) => (a?.distributions ?? []).map((d) => `${d.name}==${d.version}`);

const invoke = invokeWheelProject;

/** The zip's file names, read by Info-ZIP's unzip (a reader independent of tug's). */
async function zipNames(t: TestContext, zip: string): Promise<string[]> {
  const dir = await tempDir(t, "tug-unzip-");
  await exec("unzip", ["-q", zip, "-d", dir]);
  const names: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile()) names.push(relative(dir, join(e.parentPath, e.name)));
  return names.sort();
}

function assertOneError(r: CliResult, what: RegExp): void {
  assert.notEqual(r.code, 0, r.stderr);
  assert.equal(r.stderr.match(/^error:/gm)?.length, 1, r.stderr);
  assert.match(r.stderr, what);
  assert.match(r.stderr, /^ {2}hint: \S/m, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, r.stderr);
}

const PY = "{ runtime: python3.12, handler: ";

// -------------------------------------------------------------------------- 1: namespace packages

const GOOGLE: PyWheel[] = [
  {
    name: "protobuf",
    version: "5.29.0",
    files: {
      "google/protobuf/__init__.py": `__version__ = "5.29.0"\n`,
      "google/protobuf/message.py": "class Message:\n    pass\n",
    },
    topLevel: ["google"],
  },
  {
    name: "googleapis-common-protos",
    version: "1.66.0",
    requiresDist: ["protobuf>=5"],
    files: {
      "google/type/__init__.py": "",
      "google/type/date_pb2.py":
        "from google.protobuf import message\n\nclass Date(message.Message):\n    year = 2024\n",
      "google/api/__init__.py": "",
    },
    topLevel: ["google"],
  },
  {
    name: "google-auth",
    version: "2.36.0",
    files: { "google/auth/__init__.py": `__version__ = "2.36.0"\n` },
    topLevel: ["google"],
  },
];

test("namespace packages: `from google.type import date_pb2` gets googleapis-common-protos beside protobuf, and nothing else of google", async (t) => {
  const p = await project(t, {
    wheels: GOOGLE,
    files: {
      "requirements.txt": "protobuf\ngoogleapis-common-protos\ngoogle-auth\n",
      "dates.py":
        "from google.type import date_pb2\nfrom google.protobuf import __version__\n\n" +
        "def handler(event, context):\n    return {'year': date_pb2.Date.year, 'protobuf': __version__}\n",
      "auth.py": "import google.auth\n\ndef handler(event, context):\n    return google.auth.__version__\n",
    },
    lambdas: { dates: `${PY}dates.py:handler }`, auth: `${PY}auth.py:handler }` },
  });
  const built = await build(p);
  assert.deepEqual(versions(built.get("dates")), ["googleapis-common-protos==1.66.0", "protobuf==5.29.0"]);
  // Longest match wins: `import google.auth` is google-auth's alone; protobuf, taken for its usual
  // `google`, provides only the bare namespace there and is left out.
  assert.deepEqual(versions(built.get("auth")), ["google-auth==2.36.0"]);
  assert.deepEqual(await invoke(p, "dates"), { year: 2024, protobuf: "5.29.0" });
  assert.equal(await invoke(p, "auth"), "2.36.0");
});

test("namespace packages: an import no wheel provides below a shared namespace is reported with file:line", async (t) => {
  const p = await project(t, {
    wheels: GOOGLE,
    files: {
      "requirements.txt": "protobuf\n",
      "dates.py": "from google.type import date_pb2\n\ndef handler(event, context):\n    return 1\n",
    },
    lambdas: { dates: `${PY}dates.py:handler }` },
    python: "  unknown_imports: error\n",
  });
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assertOneError(r, /no requirement provides google\.type/);
  assert.match(r.stderr, /dates\.py:1: import google\.type/);
});

// -------------------------------------------------------------- 1: a wheel without top_level.txt

test("a hatchling-style wheel (no top_level.txt, import name unlike its project name) is found from its file table", async (t) => {
  const p = await project(t, {
    wheels: [
      {
        name: "fancy-lib",
        version: "0.3.0",
        files: {
          "fancy/__init__.py": "from fancy._impl import answer\n",
          "fancy/_impl.py": "def answer():\n    return 42\n",
        },
      },
      { name: "unused-lib", version: "1.0", files: { "unused/__init__.py": "" } },
    ],
    files: {
      "requirements.txt": "fancy-lib==0.3.0\nunused-lib\n",
      "h.py": "import fancy\n\ndef handler(event, context):\n    return fancy.answer()\n",
    },
    lambdas: { h: `${PY}h.py:handler }` },
  });
  const built = await build(p);
  assert.deepEqual(versions(built.get("h")), ["fancy-lib==0.3.0"]);
  assert.equal(await invoke(p, "h"), 42);
});

// --------------------------------------------------------- 3: pins of requirements not imported

test("a pip-compile lock: the pin of a transitive dependency the handler does not import is what it gets", async (t) => {
  const numlike = (version: string): PyWheel => ({
    name: "numlike",
    version,
    files: { "numlike/__init__.py": `__version__ = "${version}"\n` },
  });
  const p = await project(t, {
    wheels: [
      numlike("1.26.4"),
      numlike("2.1.0"),
      {
        name: "pandalike",
        version: "2.2.3",
        requiresDist: ["numlike>=1.22"],
        files: { "pandalike/__init__.py": "import numlike\n\nNUMLIKE = numlike.__version__\n" },
      },
    ],
    files: {
      "requirements.txt": "# pip-compile output\npandalike==2.2.3\nnumlike==1.26.4\n",
      "h.py": "import pandalike\n\ndef handler(event, context):\n    return pandalike.NUMLIKE\n",
    },
    lambdas: { h: `${PY}h.py:handler }` },
  });
  const built = await build(p);
  assert.deepEqual(versions(built.get("h")), ["numlike==1.26.4", "pandalike==2.2.3"]);
  assert.equal(await invoke(p, "h"), "1.26.4");
});

// ------------------------------------------------------------- 2: an unresolvable requirement

test("a requirement with no wheel for arm64 that alone could provide an import fails the build with pip's kind of error", async (t) => {
  const p = await project(t, {
    wheels: [
      {
        name: "psycopg2-binary",
        version: "2.9.10",
        tag: "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
        files: { "psycopg2/__init__.py": `__version__ = "2.9.10"\n` },
        topLevel: ["psycopg2"],
      },
    ],
    files: {
      "requirements.txt": "psycopg2-binary==2.9.10\n",
      "db.py": "import psycopg2\n\ndef handler(event, context):\n    return psycopg2.__version__\n",
    },
    lambdas: {
      db_x86: `${PY}db.py:handler }`,
      db_arm: `${PY}db.py:handler, architecture: arm64 }`,
    },
  });
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assertOneError(r, /no wheel of psycopg2-binary ==2\.9\.10 fits python3\.12 on aarch64/);
  assert.match(r.stderr, /looked at 2\.9\.10 \(cp312-cp312-manylinux_2_17_x86_64/);
  assert.match(r.stderr, /nothing else provides db\.py:1: import psycopg2/);
  assert.match(r.stderr, /set architecture: x86_64/);
  assert.doesNotMatch(r.stderr, /not provided by any requirement/);
});

// ------------------------------------------------------- 6: strip tests keeps imported tests

test("strip: {tests: true} keeps the tests modules the package itself imports, and drops the others", async (t) => {
  const p = await project(t, {
    wheels: [
      {
        name: "nump",
        version: "2.2.0",
        files: {
          "nump/__init__.py": "from nump import testing\n",
          "nump/testing/__init__.py": "from nump._core.tests._natype import NA\n",
          "nump/_core/__init__.py": "",
          "nump/_core/tests/__init__.py": "",
          "nump/_core/tests/_natype.py": "from ._helper import name\n\nNA = name()\n",
          "nump/_core/tests/_helper.py": "def name():\n    return 'NA'\n",
          "nump/_core/tests/test_core.py": "def test_x():\n    assert True\n",
          "nump/linalg/__init__.py": "",
          "nump/linalg/tests/test_linalg.py": "def test_y():\n    assert True\n",
        },
      },
    ],
    files: {
      "requirements.txt": "nump\n",
      "h.py": "import nump\n\ndef handler(event, context):\n    return nump.testing.NA\n",
    },
    lambdas: { h: `${PY}h.py:handler }` },
    python: "  strip: { tests: true }\n",
  });
  const built = await build(p);
  const names = await zipNames(t, built.get("h")?.path ?? "");
  assert.ok(names.includes("nump/_core/tests/_natype.py"), names.join("\n"));
  assert.ok(names.includes("nump/_core/tests/_helper.py"), names.join("\n"));
  assert.ok(!names.some((n) => n.startsWith("nump/linalg/tests/")), names.join("\n"));
  assert.ok(!names.includes("nump/_core/tests/test_core.py"), names.join("\n"));
  assert.equal(await invoke(p, "h"), "NA");
});
