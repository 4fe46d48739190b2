import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { isTugError } from "../../src/errors.ts";
import { guessTopLevel, topLevelFromPaths, topLevelOfWheel } from "../../src/python/top-level.ts";
import { installedName, mergeWheels, wheelEntries } from "../../src/python/wheel-layout.ts";
import { ZipReader } from "../../src/zip/zip-reader.ts";
import { createZip } from "../../src/zip/zip-writer.ts";
import { tempDir } from "../support/tmp.ts";

type Files = Record<string, string | { data: string; mode: number }>;

/** A wheel written by CPython's zipfile (deflated, unix modes in the external attributes). */
function makeWheel(dir: string, filename: string, files: Files): string {
  const path = join(dir, filename);
  const script = `
import json, sys, zipfile
path, files = json.loads(sys.stdin.read())
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
    for name, f in files.items():
        data, mode = (f, 0o644) if isinstance(f, str) else (f["data"], f["mode"])
        info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | mode) << 16
        info.create_system = 3
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, data)
`;
  python(["-c", script], JSON.stringify([path, files]));
  return path;
}

function python(args: string[], input?: string): string {
  const r = spawnSync("python3", args, { input, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const DEMO: Files = {
  "demo/__init__.py": "from .core import answer\n",
  "demo/core.py": "def answer():\n    return 42\n",
  "demo/core.pyi": "def answer() -> int: ...\n",
  "demo/py.typed": "",
  "demo/__pycache__/core.cpython-311.pyc": "not bytecode",
  "demo/stray.pyc": "not bytecode",
  "demo/tool.sh": { data: "#!/bin/sh\necho hi\n", mode: 0o755 },
  "demo/tests/test_core.py": "import demo\n",
  "demo/docs/index.rst": "Demo\n====\n",
  "demo-1.0.data/purelib/demo_extra.py": "VALUE = 'extra'\n",
  "demo-1.0.data/platlib/demo_native.py": "NATIVE = True\n",
  "demo-1.0.data/scripts/demo-cli": { data: "#!python\nprint(1)\n", mode: 0o755 },
  "demo-1.0.data/headers/demo.h": "int x;\n",
  "demo-1.0.data/data/share/demo/readme.txt": "data file\n",
  "demo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
  "demo-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
  "demo-1.0.dist-info/RECORD": "demo/__init__.py,,\n",
};

test("a wheel is laid out at the root with .data mapped and bytecode dropped", async (t) => {
  const dir = await tempDir(t);
  const whl = makeWheel(dir, "demo-1.0-py3-none-any.whl", DEMO);
  const entries = await wheelEntries(whl);
  const byName = new Map(entries.map((e) => [e.name, e]));
  assert.deepEqual([...byName.keys()].sort(), [
    "demo-1.0.dist-info/METADATA",
    "demo-1.0.dist-info/RECORD",
    "demo-1.0.dist-info/WHEEL",
    "demo/__init__.py",
    "demo/core.py",
    "demo/core.pyi",
    "demo/docs/index.rst",
    "demo/py.typed",
    "demo/tests/test_core.py",
    "demo/tool.sh",
    "demo_extra.py",
    "demo_native.py",
    "share/demo/readme.txt",
  ]);
  assert.equal(byName.get("demo/tool.sh")?.mode, 0o755);
  assert.equal(byName.get("demo/core.py")?.mode, 0o644);

  // The compressed bytes are the wheel's own, not recompressed.
  const reader = await ZipReader.open(whl);
  t.after(() => reader.close());
  const original = reader.entries.find((e) => e.name === "demo/core.py");
  const laid = byName.get("demo/core.py");
  assert.ok(original && laid);
  assert.equal(laid.method, 8);
  assert.equal(laid.crc32, original.crc32);
  assert.equal(laid.compressedSize, original.compressedSize);
  const chunks: Buffer[] = [];
  for await (const c of await laid.raw()) chunks.push(Buffer.from(c as Uint8Array));
  const rawOriginal: Buffer[] = [];
  for await (const c of await reader.raw(original)) rawOriginal.push(c as Buffer);
  assert.deepEqual(Buffer.concat(chunks), Buffer.concat(rawOriginal));

  // Python's zipfile extracts the result and the modules import from it.
  const zip = join(dir, "out.zip");
  await createZip(entries, zip);
  const out = join(dir, "unpacked");
  python(["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])", zip, out]);
  const got = python([
    "-c",
    "import sys; sys.path.insert(0, sys.argv[1]); import demo, demo_extra, demo_native; print(demo.answer(), demo_extra.VALUE, demo_native.NATIVE)",
    out,
  ]);
  assert.equal(got.trim(), "42 extra True");
  const zipModes = python([
    "-c",
    "import sys, zipfile; print(oct(zipfile.ZipFile(sys.argv[1]).getinfo('demo/tool.sh').external_attr >> 16))",
    zip,
  ]);
  assert.equal(zipModes.trim(), "0o100755");
});

test("strip drops tests, stubs and docs but never dist-info", () => {
  const all = { tests: true, pyi: true, docs: true };
  assert.equal(installedName("demo/tests/test_core.py", all), undefined);
  assert.equal(installedName("demo/core.pyi", all), undefined);
  assert.equal(installedName("demo/py.typed", all), undefined);
  assert.equal(installedName("demo/docs/index.rst", all), undefined);
  assert.equal(installedName("demo/README.md", all), undefined);
  assert.equal(installedName("demo-1.0.dist-info/LICENSE.md", all), "demo-1.0.dist-info/LICENSE.md");
  assert.equal(installedName("demo/testing/util.py", all), "demo/testing/util.py");
  assert.equal(installedName("demo/tests/test_core.py"), "demo/tests/test_core.py");
  assert.equal(installedName("x-1.data/scripts/x"), undefined);
  assert.equal(installedName("x-1.data/headers/x.h"), undefined);
});

test("a wheel entry escaping the root is refused naming the wheel", async (t) => {
  const dir = await tempDir(t);
  const whl = makeWheel(dir, "evil-1.0-py3-none-any.whl", { "../evil.py": "x = 1\n" });
  await assert.rejects(wheelEntries(whl), (err: unknown) => {
    assert.ok(isTugError(err));
    assert.match(err.what, /evil-1\.0-py3-none-any\.whl/);
    assert.match(err.what, /outside/);
    return true;
  });
});

test("wheels sharing a namespace merge; a true collision names both wheels", async (t) => {
  const dir = await tempDir(t);
  const init = "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n";
  const a = makeWheel(dir, "ns_a-1.0-py3-none-any.whl", { "ns/__init__.py": init, "ns/a.py": "A = 1\n" });
  const b = makeWheel(dir, "ns_b-1.0-py3-none-any.whl", { "ns/__init__.py": init, "ns/b.py": "B = 2\n" });
  const c = makeWheel(dir, "ns_c-2.0-py3-none-any.whl", { "ns/a.py": "A = 'other'\n" });
  const merged = mergeWheels([
    { wheel: a, entries: await wheelEntries(a) },
    { wheel: b, entries: await wheelEntries(b) },
  ]);
  assert.deepEqual(merged.map((e) => e.name).sort(), ["ns/__init__.py", "ns/a.py", "ns/b.py"]);
  const zip = join(dir, "ns.zip");
  await createZip(merged, zip);
  const out = join(dir, "ns");
  python(["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])", zip, out]);
  const got = python([
    "-c",
    "import sys; sys.path.insert(0, sys.argv[1]); import ns.a, ns.b; print(ns.a.A + ns.b.B)",
    out,
  ]);
  assert.equal(got.trim(), "3");

  const lists = [
    { wheel: a, entries: await wheelEntries(a) },
    { wheel: c, entries: await wheelEntries(c) },
  ];
  assert.throws(
    () => mergeWheels(lists),
    (err: unknown) => {
      assert.ok(isTugError(err));
      assert.match(err.what, /ns_a-1\.0-py3-none-any\.whl/);
      assert.match(err.what, /ns_c-2\.0-py3-none-any\.whl/);
      assert.match(err.what, /ns\/a\.py/);
      return true;
    },
  );
});

test("top-level names come from top_level.txt, else RECORD paths, else a short table", async (t) => {
  assert.deepEqual(
    topLevelFromPaths([
      "_cffi_backend.cpython-311-x86_64-linux-gnu.so",
      "cffi/__init__.py",
      "cffi/api.py",
      "cffi-1.17.1.dist-info/RECORD",
      "cffi.libs/libffi-abc.so.8",
      "six.py",
      "x-1.data/purelib/extra/__init__.py",
      "x-1.data/scripts/tool",
      "README",
    ]),
    ["_cffi_backend", "cffi", "extra", "six"],
  );
  const dir = await tempDir(t);
  const withTxt = makeWheel(dir, "attrs-23.1-py3-none-any.whl", {
    "attr/__init__.py": "",
    "attrs/__init__.py": "",
    "attrs-23.1.dist-info/top_level.txt": "attr\nattrs\n",
  });
  const withRecord = makeWheel(dir, "PyYAML-6.0-cp311-cp311-manylinux_2_17_x86_64.whl", {
    "yaml/__init__.py": "",
    "_yaml/__init__.py": "",
    "PyYAML-6.0.dist-info/RECORD": "yaml/__init__.py,sha256=x,0\n_yaml/__init__.py,sha256=y,0\n",
  });
  for (const [whl, want] of [
    [withTxt, ["attr", "attrs"]],
    [withRecord, ["_yaml", "yaml"]],
  ] as const) {
    const reader = await ZipReader.open(whl);
    t.after(() => reader.close());
    assert.deepEqual(await topLevelOfWheel(reader), want);
  }
  assert.deepEqual(guessTopLevel("PyYAML"), ["yaml"]);
  assert.deepEqual(guessTopLevel("Pillow"), ["PIL"]);
  assert.deepEqual(guessTopLevel("scikit_learn"), ["sklearn"]);
  assert.deepEqual(guessTopLevel("python-dateutil"), ["dateutil"]);
  assert.deepEqual(guessTopLevel("beautifulsoup4"), ["bs4"]);
  assert.deepEqual(guessTopLevel("typing.extensions"), ["typing_extensions"]);
  assert.deepEqual(guessTopLevel("msgspec"), ["msgspec"]);
});

test("a wheel's file table survives its record encoding, and names that would not are not encoded", async () => {
  const { decodeRows, encodeRows } = await import("../../src/python/wheel-table.ts");
  const rows = [
    {
      name: "demo/__init__.py",
      mode: 0o644,
      method: 8 as const,
      crc32: 4294967295,
      compressedSize: 10,
      uncompressedSize: 20,
      dataOffset: 30,
    },
    {
      name: "données/é.txt",
      mode: 0o755,
      method: 0 as const,
      crc32: 0,
      compressedSize: 0,
      uncompressedSize: 0,
      dataOffset: 99,
    },
  ];
  const text = encodeRows(rows);
  assert.ok(text !== undefined);
  assert.deepEqual(decodeRows(text), rows);
  assert.deepEqual(decodeRows(""), []);
  assert.equal(decodeRows("only\tthree\tfields"), undefined);
  assert.equal(encodeRows([{ ...rows[0]!, name: "a\tb" }]), undefined);
});
