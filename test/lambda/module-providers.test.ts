import assert from "node:assert/strict";
import test from "node:test";
import { testDirOf, testFilesImported } from "../../src/python/kept-tests.ts";
import {
  importProvided,
  mergeTrees,
  moduleTreeFromPaths,
  providesImport,
  treeOfNames,
} from "../../src/python/module-providers.ts";
import { installedName } from "../../src/python/wheel-layout.ts";

// The real layouts: protobuf 5 and googleapis-common-protos 1.66 both install under a `google/`
// with no __init__.py (PEP 420); google-auth too.
const PROTOBUF = [
  "google/protobuf/__init__.py",
  "google/protobuf/message.py",
  "google/_upb/_message.abi3.so",
  "protobuf-5.29.0.dist-info/RECORD",
];
const COMMON_PROTOS = ["google/type/__init__.py", "google/type/date_pb2.py", "google/api/annotations_pb2.py"];

test("a wheel's module tree: modules, packages and PEP 420 namespace directories", () => {
  const tree = moduleTreeFromPaths(PROTOBUF);
  assert.deepEqual(
    [...tree.modules].sort(),
    ["google", "google._upb", "google._upb._message", "google.protobuf", "google.protobuf.message"].sort(),
  );
  assert.deepEqual([...tree.namespaces].sort(), ["google", "google._upb"]);
});

test("a wheel's module tree: .data/purelib is the root, .libs and metadata are not importable, a.py beside a/ is a module", () => {
  const tree = moduleTreeFromPaths([
    "pkg-1.0.data/purelib/pkg/__init__.py",
    "pkg.libs/libfoo-1234.so.1",
    "pkg-1.0.dist-info/METADATA",
    "pkg-1.0.data/scripts/tool",
    "six.py",
    "six/extra.py",
  ]);
  assert.deepEqual([...tree.modules].sort(), ["pkg", "six", "six.extra"]);
  assert.deepEqual([...tree.namespaces], []);
});

test("imports match by their full dotted path, longest prefix wins", () => {
  const protobuf = moduleTreeFromPaths(PROTOBUF);
  const both = mergeTrees([protobuf, moduleTreeFromPaths(COMMON_PROTOS)]);
  // protobuf alone does not provide google.type: its `google` is only a namespace portion.
  assert.equal(providesImport(protobuf, "google.type.date_pb2"), false);
  assert.equal(providesImport(protobuf, "google.protobuf.message"), true);
  assert.equal(providesImport(both, "google.type.date_pb2"), true);
  // A regular package answers for its attributes and lazy submodules.
  assert.equal(providesImport(protobuf, "google.protobuf.json_format_lazy"), true);
  assert.equal(providesImport(protobuf, "yaml"), false);
  // `from google import protobuf, type`: every name is a path to provide.
  assert.equal(importProvided(protobuf, { module: "google", names: ["protobuf"] }), true);
  assert.equal(importProvided(protobuf, { module: "google", names: ["protobuf", "type"] }), false);
  assert.equal(importProvided(both, { module: "google", names: ["protobuf", "type"] }), true);
});

test("module_mapping names count as regular modules; a namespace in one tree and regular in another is regular", () => {
  const mapped = treeOfNames(["google.type"]);
  assert.equal(providesImport(mapped, "google.type.date_pb2"), true);
  const pkgutilStyle = moduleTreeFromPaths(["google/__init__.py", "google/cloud/storage.py"]);
  const merged = mergeTrees([moduleTreeFromPaths(PROTOBUF), pkgutilStyle]);
  assert.equal(merged.namespaces.has("google"), false);
});

test("strip tests: testDirOf follows wheel-layout's rule (a tests dir inside a top-level package)", () => {
  assert.equal(testDirOf("numpy/_core/tests/_natype.py"), "numpy/_core/tests");
  assert.equal(testDirOf("numpy/tests/test_x.py"), "numpy/tests");
  assert.equal(testDirOf("tests/conftest.py"), undefined);
  assert.equal(testDirOf("numpy/testing/utils.py"), undefined);
  assert.equal(installedName("numpy/_core/tests/_natype.py", { tests: true }), undefined);
  assert.equal(
    installedName("numpy/_core/tests/_natype.py", { tests: true }, ["numpy/_core/tests/_natype.py"]),
    "numpy/_core/tests/_natype.py",
  );
  assert.equal(
    installedName("numpy/_core/tests/test_x.py", { tests: true }, ["numpy/_core/tests/_natype.py"]),
    undefined,
  );
});

test("strip tests: a tests module imported by a kept module (absolute, relative, from-names) is kept with its packages' __init__, transitively; nothing else", async () => {
  const sources: Record<string, string> = {
    "numpy/__init__.py": "from . import testing\n",
    "numpy/testing/_private/utils.py": "from numpy._core.tests._natype import pd_NA\n",
    "numpy/_core/tests/__init__.py": "",
    "numpy/_core/tests/_natype.py":
      "from ..tests2 import x\nimport numpy.ma.tests.helpers\nfrom . import _util\n",
    "numpy/_core/tests/_util.py": "",
    "numpy/_core/tests/data/__init__.py": "",
    "numpy/_core/tests/test_a.py": "import pytest\n",
    "numpy/ma/tests/helpers.py": "",
    "numpy/linalg/tests/test_b.py": "from numpy.fft.tests import y\n",
    "numpy/fft/tests/__init__.py": "",
    "numpy/lib/__init__.py": "from . import tests  # kept: `from . import tests`\n",
    "numpy/lib/tests/__init__.py": "",
    "numpy/f2py/__init__.py": "# mentions tests only in a comment\n",
    "numpy/f2py/tests/__init__.py": "",
  };
  const kept = await testFilesImported(Object.keys(sources), (p) => sources[p] ?? "");
  assert.deepEqual(kept, [
    "numpy/_core/tests/__init__.py",
    "numpy/_core/tests/_natype.py",
    "numpy/_core/tests/_util.py",
    "numpy/lib/tests/__init__.py",
    "numpy/ma/tests/helpers.py",
  ]);
});
