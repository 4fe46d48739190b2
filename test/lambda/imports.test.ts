import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { firstPartyClosure, importsOf, isStdlib } from "../../src/python/imports.ts";
import { tempDir } from "../support/tmp.ts";

async function tree(root: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), text);
  }
}

test("import statements of every shape", () => {
  const src = [
    "import a.b as c, d", // 1
    "from a.b import c", // 2
    "from . import x", // 3
    "from ..pkg import y as z, w", // 4
    "from .mod import (", // 5
    "    one,",
    "    two as deux,",
    ")",
    "from ... import up", // 9
  ].join("\n");
  assert.deepEqual(importsOf(src, "m.py"), [
    { module: "a.b", line: 1, level: 0 },
    { module: "d", line: 1, level: 0 },
    { module: "a.b", line: 2, level: 0, names: ["c"] },
    { module: "", line: 3, level: 1, names: ["x"] },
    { module: "pkg", line: 4, level: 2, names: ["y", "w"] },
    { module: "mod", line: 5, level: 1, names: ["one", "two"] },
    { module: "", line: 9, level: 3, names: ["up"] },
  ]);
});

test("strings, comments and docstrings are not imports; nested ones are", () => {
  const src = `"""Module doc.

import fake_in_docstring
"""
# import fake_in_comment
s = "import fake_in_string"
t = '''
from fake_multiline import x
'''
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from typing_only import Thing

def handler(event, context):
    import inside_function
    return 1

try:
    import optional_fast
except ImportError:
    optional_fast = None

mod = __import__("dyn_a")
other = importlib.import_module("dyn_b.sub")
skipped = importlib.import_module(name)
`;
  const got = importsOf(src, "m.py");
  assert.deepEqual(
    got.map((i) => i.module),
    ["typing", "typing_only", "inside_function", "optional_fast", "dyn_a", "dyn_b.sub"],
  );
  assert.equal(got.find((i) => i.module === "optional_fast")?.weak, true);
  assert.equal(got.find((i) => i.module === "inside_function")?.weak, undefined);
  assert.equal(got.find((i) => i.module === "dyn_a")?.dynamic, true);
  assert.equal(got.find((i) => i.module === "typing_only")?.line, 12);
});

test("a file with a syntax error still yields its imports", () => {
  const got = importsOf("import good\ndef broken(:\n    pass\nimport also_good\n", "bad.py");
  assert.ok(got.some((i) => i.module === "good"));
  assert.ok(got.some((i) => i.module === "also_good"));
});

test("the talk's example: each lambda gets only its own third-party imports", async (t) => {
  const root = await tempDir(t);
  await tree(root, {
    "lambdas/echo.py": [
      "import json",
      "import msgspec",
      "from logs import log",
      "def handler(event, context):",
      "    log.info('echo')",
      "    return msgspec.json.decode(json.dumps(event))",
    ].join("\n"),
    "lambdas/logs.py": "import logging\nimport structlog\nlog = structlog.get_logger()\n",
    "lambdas/plot.py": [
      "import io",
      "import matplotlib.pyplot as plt",
      "def handler(event, context):",
      "    return plt.figure() is not None",
    ].join("\n"),
  });
  const echo = await firstPartyClosure(join(root, "lambdas/echo.py"), join(root, "lambdas"));
  assert.deepEqual([...echo.thirdParty].sort(), ["msgspec", "structlog"]);
  assert.deepEqual(echo.files, [join(root, "lambdas/echo.py"), join(root, "lambdas/logs.py")]);
  const structlog = echo.imports.find((i) => i.module === "structlog");
  assert.deepEqual(structlog, {
    module: "structlog",
    file: join(root, "lambdas/logs.py"),
    line: 2,
    weak: false,
  });
  const plot = await firstPartyClosure(join(root, "lambdas/plot.py"), join(root, "lambdas"));
  assert.deepEqual([...plot.thirdParty], ["matplotlib"]);
  assert.deepEqual(plot.files, [join(root, "lambdas/plot.py")]);
});

test("packages, relative imports and extra source roots are followed", async (t) => {
  const root = await tempDir(t);
  await tree(root, {
    "app/handler.py": "from app.core import run\nfrom app import helpers\n",
    "app/__init__.py": "",
    "app/core/__init__.py": "from .engine import go\nfrom ..util import fmt\n",
    "app/core/engine.py": "import numpy\nfrom . import missing_is_fine\n",
    "app/util.py": "import requests\n",
    "app/helpers.py": "import shared.tools\n",
    "libs/shared/tools.py": "import boto3\nimport os.path\n",
  });
  const got = await firstPartyClosure(join(root, "app/handler.py"), root, {
    sourceRoots: [join(root, "libs")],
  });
  assert.deepEqual([...got.thirdParty].sort(), ["boto3", "numpy", "requests"]);
  assert.deepEqual(got.files.map((f) => f.slice(root.length + 1)).sort(), [
    "app/__init__.py",
    "app/core/__init__.py",
    "app/core/engine.py",
    "app/handler.py",
    "app/helpers.py",
    "app/util.py",
    "libs/shared/tools.py",
  ]);
});

test("parent packages' __init__.py come with every module, and their imports are followed", async (t) => {
  const root = await tempDir(t);
  await tree(root, {
    "src/app/__init__.py": "import attrs\nfrom .util import helper\n",
    "src/app/util.py": "",
    "src/app/handler.py": "from . import sub\nfrom .pkg import mod\n",
    "src/app/sub.py": "",
    "src/app/pkg/__init__.py": "",
    "src/app/pkg/mod.py": "",
    "src/app/pkg/deep/__init__.py": "",
    "src/app/pkg/deep/leaf.py": "from .. import other\n",
    "src/app/pkg/other.py": "",
    "src/app/unused.py": "import never\n",
    "src/__init__.py": "import outside_the_root\n",
  });
  const got = await firstPartyClosure(join(root, "src/app/handler.py"), root, {
    sourceRoots: [join(root, "src")],
    extraEntries: [join(root, "src/app/pkg/deep/leaf.py")],
  });
  assert.equal(got.files[0], join(root, "src/app/handler.py"));
  assert.deepEqual(got.files.map((f) => f.slice(root.length + 1)).sort(), [
    "src/app/__init__.py",
    "src/app/handler.py",
    "src/app/pkg/__init__.py",
    "src/app/pkg/deep/__init__.py",
    "src/app/pkg/deep/leaf.py",
    "src/app/pkg/mod.py",
    "src/app/pkg/other.py",
    "src/app/sub.py",
    "src/app/util.py",
  ]);
  // src/__init__.py is above the source root `src`: not a package of the module `app`.
  assert.deepEqual([...got.thirdParty], ["attrs"]);
});

test("the standard library is per Python version", () => {
  assert.equal(isStdlib("os.path"), true);
  assert.equal(isStdlib("tomllib", 10), false);
  assert.equal(isStdlib("tomllib", 11), true);
  assert.equal(isStdlib("distutils", 11), true);
  assert.equal(isStdlib("distutils", 12), false);
  assert.equal(isStdlib("cgi", 13), false);
  assert.equal(isStdlib("annotationlib", 14), true);
  assert.equal(isStdlib("annotationlib", 13), false);
  assert.equal(isStdlib("msgspec"), false);
  assert.equal(isStdlib("typing_extensions"), false);
});

test("a directory without Python files does not shadow a third-party import (the wheel's files land beside it)", async (t) => {
  const { mkdir: mk, writeFile: wf } = await import("node:fs/promises");
  const { join: j } = await import("node:path");
  const { tempDir: td } = await import("../support/tmp.ts");
  const root = await td(t);
  await mk(j(root, "msgspec"), { recursive: true });
  await wf(j(root, "msgspec", "sample.json"), "{}");
  await mk(j(root, "ours"), { recursive: true });
  await wf(j(root, "ours", "tool.py"), "X = 1\n");
  await wf(j(root, "h.py"), "import msgspec\nimport ours\nfrom ours import tool\n");
  const got = await firstPartyClosure(j(root, "h.py"), root);
  assert.deepEqual([...got.thirdParty], ["msgspec"]);
  assert.deepEqual(got.files.map((f) => f.slice(root.length + 1)).sort(), ["h.py", "ours/tool.py"]);
});

test("an `except ImportError` fallback for standard modules is optional where the target has them", async (t) => {
  const source = [
    "try:",
    "    import tomllib",
    "except ImportError:",
    "    import tomli as tomllib",
    "try:",
    "    import orjson as json",
    "except ModuleNotFoundError:",
    "    import simplejson as json",
    "try:",
    "    import tomllib as t2",
    "except ValueError:",
    "    import strict_dep",
    "",
  ].join("\n");
  const found = importsOf(source);
  assert.deepEqual(found.find((i) => i.module === "tomli")?.fallbackFor, ["tomllib"]);
  assert.equal(
    found.find((i) => i.module === "strict_dep")?.fallbackFor,
    undefined,
    "not an ImportError handler",
  );
  const root = await tempDir(t, "tug-imports-fallback-");
  await writeFile(join(root, "fn.py"), source);
  const weakOf = async (minor: number) =>
    new Map(
      (await firstPartyClosure(join(root, "fn.py"), root, { minor })).imports.map((i) => [i.module, i.weak]),
    );
  const on311 = await weakOf(11);
  assert.equal(on311.get("tomli"), true, "3.11 has tomllib: tomli is never imported there");
  assert.equal(on311.get("orjson"), true, "a guarded try-body import stays optional");
  assert.equal(on311.get("simplejson"), false, "the fallback for a third-party module is required");
  assert.equal(on311.get("strict_dep"), false);
  const on310 = await weakOf(10);
  assert.equal(on310.get("tomli"), false, "3.10 has no tomllib: the fallback runs and is required");
});
