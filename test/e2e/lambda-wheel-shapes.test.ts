// Issue #10's acceptance fixtures for shapes real wheels have, end to end through `tug build` +
// `tug invoke`: an auditwheel-repaired manylinux wheel whose extension finds its vendored shared
// library through RUNPATH `$ORIGIN/../PKG.libs`, a wheel with `.data/` schemes, and a wheel with
// entry_points.txt and no top_level.txt whose import name is not its project name. Wheels are
// written by python3's zipfile, the C code is compiled here with gcc, ELF headers are read with
// readelf and zips with Info-ZIP's unzip; `tug invoke` runs the handler isolated, so a file the
// zip lacks really fails.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import test, { type TestContext } from "node:test";
import { promisify } from "node:util";
import { isPythonRuntime } from "../../src/python/runtime.ts";
import { auditwheelBuild, HELPER_LIB, readelfDynamic } from "../lambda/support/auditwheel-build.ts";
import { type LocalPython, localPython } from "../lambda/support/fixture-index.ts";
import {
  type BuiltLambda,
  buildWheelProject,
  invokeWheelProject,
  type WheelProject,
  type WheelProjectSpec,
  wheelProject,
} from "../lambda/support/wheel-project.ts";
import { tempDir } from "../support/tmp.ts";

const exec = promisify(execFile);

type Built = BuiltLambda;
type Project = WheelProject;

const project = (t: TestContext, spec: WheelProjectSpec): Promise<Project> =>
  wheelProject(t, "tug-shapes-", spec);
const build = buildWheelProject;

function artifact(built: Map<string, Built>, name: string): Built {
  const a = built.get(name);
  assert.ok(a, `no artifact ${name} in ${JSON.stringify([...built.keys()])}`);
  return a;
}

const versions = (a: Built) => a.distributions.map((d) => `${d.name}==${d.version}`);

const invoke = invokeWheelProject;

/** Unpacks a zip with Info-ZIP's unzip (a reader independent of tug's); returns the directory and its file names. */
async function unzip(t: TestContext, zip: string): Promise<{ dir: string; names: string[] }> {
  const dir = await tempDir(t, "tug-unzip-");
  await exec("unzip", ["-q", zip, "-d", dir]);
  const names: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile()) names.push(relative(dir, join(e.parentPath, e.name)));
  return { dir, names: names.sort() };
}

/** The runtime named like the host's python3 (the only one a compiled fixture can run on). */
function hostRuntime(py: LocalPython): string {
  const runtime = `python${py.version[0]}.${py.version[1]}`;
  assert.ok(isPythonRuntime(runtime), `the local python3 is ${runtime}, which is no Lambda runtime`);
  return runtime;
}

// ------------------------------------------------- 1: auditwheel layout, a vendored shared library

for (const search of ["RUNPATH", "RPATH"] as const) {
  test(`a manylinux wheel whose extension links PKG.libs/ through ${search} $ORIGIN/../PKG.libs imports and calls into the library`, async (t) => {
    const py = await localPython();
    const runtime = hostRuntime(py);
    const arch = py.machine === "aarch64" ? "arm64" : "x86_64";
    const { ext, lib, so } = await auditwheelBuild(await tempDir(t, "tug-gcc-"), py, search);
    const tag = `${py.tag}-${py.tag}-manylinux_2_17_${py.machine}`;
    const p = await project(t, {
      wheels: [
        {
          name: "mypkg",
          version: "1.0",
          tag,
          files: {
            "mypkg/__init__.py": "from mypkg._native import answer\n",
            [`mypkg/${ext}`]: so,
            [`mypkg.libs/${HELPER_LIB}`]: lib,
          },
          topLevel: ["mypkg"],
        },
      ],
      files: {
        "requirements.txt": "mypkg==1.0\n",
        "h.py": "import mypkg\n\ndef handler(event, context):\n    return mypkg.answer(20)\n",
      },
      lambdas: { h: `{ runtime: ${runtime}, architecture: ${arch}, handler: h.py:handler }` },
    });
    const h = artifact(await build(p), "h");
    assert.deepEqual(versions(h), ["mypkg==1.0"]);

    const { dir, names } = await unzip(t, h.path);
    assert.ok(names.includes(`mypkg/${ext}`), names.join("\n"));
    assert.ok(names.includes(`mypkg.libs/${HELPER_LIB}`), names.join("\n"));
    assert.deepEqual(await readFile(join(dir, "mypkg.libs", HELPER_LIB)), lib);
    // the shipped extension still NEEDs the hashed name and looks for it beside its package
    const dynamic = await readelfDynamic(join(dir, "mypkg", ext));
    assert.ok(dynamic.needed.includes(HELPER_LIB), JSON.stringify(dynamic));
    assert.deepEqual(dynamic[search], ["$ORIGIN/../mypkg.libs"]);
    assert.deepEqual(dynamic[search === "RUNPATH" ? "RPATH" : "RUNPATH"], []);

    // helper_answer(20) = 42, computed in libhelper, loaded through the RUNPATH from the zip
    assert.equal(await invoke(p, "h"), 42);
  });
}

// ------------------------------------------------------------------- 2: .data/ schemes of a wheel

test(".data/purelib and .data/platlib land at the zip root as pip installs them; scripts and headers are left out", async (t) => {
  const data = "datapkg-1.0.data";
  const p = await project(t, {
    wheels: [
      {
        name: "datapkg",
        version: "1.0",
        files: {
          "datapkg/__init__.py":
            "import os\nfrom datapkg.extra import VALUE\nfrom datapkg_plat import PLAT\n\n" +
            "SHARE = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'share', 'datapkg', 'config.json')\n",
          [`${data}/purelib/datapkg/extra.py`]: 'VALUE = "purelib"\n',
          [`${data}/platlib/datapkg_plat/__init__.py`]: 'PLAT = "platlib"\n',
          [`${data}/scripts/datapkg-cli`]: "#!python\nimport datapkg\nprint(datapkg.VALUE)\n",
          [`${data}/headers/datapkg.h`]: "int datapkg(void);\n",
          [`${data}/data/share/datapkg/config.json`]: '{"from": "data"}\n',
        },
        topLevel: ["datapkg", "datapkg_plat"],
      },
    ],
    files: {
      "requirements.txt": "datapkg\n",
      "h.py":
        "import json\nimport datapkg\n\ndef handler(event, context):\n" +
        "    with open(datapkg.SHARE) as f:\n" +
        "        return [datapkg.VALUE, datapkg.PLAT, json.load(f)['from']]\n",
    },
    lambdas: { h: "{ runtime: python3.11, handler: h.py:handler }" },
  });
  const h = artifact(await build(p), "h");
  assert.deepEqual(versions(h), ["datapkg==1.0"]);
  const { names } = await unzip(t, h.path);
  const payload = names.filter((n) => !n.startsWith("datapkg-1.0.dist-info/") && n !== "h.py");
  // pip --target also moves the data scheme's files to the target's root; its scripts (bin/) and
  // headers (include/) are never on sys.path, so the zip leaves them out.
  assert.deepEqual(payload, [
    "datapkg/__init__.py",
    "datapkg/extra.py",
    "datapkg_plat/__init__.py",
    "share/datapkg/config.json",
  ]);
  assert.equal(
    names.filter((n) => n.includes(".data/") || /datapkg-cli|datapkg\.h$/.test(n)).length,
    0,
    names.join("\n"),
  );
  assert.deepEqual(await invoke(p, "h"), ["purelib", "platlib", "data"]);
});

// ------------------------------------- 3: entry_points.txt, no top_level.txt, a different import name

test("a wheel with entry_points.txt and no top_level.txt, imported under another name than its project's, is selected and imports", async (t) => {
  const p = await project(t, {
    wheels: [
      {
        name: "Widget-Tools",
        version: "2.0",
        files: {
          "wtools/__init__.py": "from wtools.cli import main\n",
          "wtools/cli.py": "def main():\n    return 'wtools ran'\n",
        },
        distInfo: { "entry_points.txt": "[console_scripts]\nwtools = wtools.cli:main\n" },
      },
      {
        name: "other-thing",
        version: "1.0",
        files: { "other_thing/__init__.py": "" },
        distInfo: { "entry_points.txt": "[console_scripts]\nother = other_thing:main\n" },
      },
    ],
    files: {
      "requirements.txt": "widget-tools==2.0\nother-thing\n",
      "h.py":
        "from importlib.metadata import entry_points\nimport wtools\n\n" +
        "def handler(event, context):\n" +
        "    (ep,) = entry_points(group='console_scripts', name='wtools')\n" +
        "    return [wtools.main(), ep.value, ep.load()()]\n",
    },
    lambdas: { h: "{ runtime: python3.11, handler: h.py:handler }" },
  });
  const h = artifact(await build(p), "h");
  assert.equal(h.distributions.length, 1, JSON.stringify(h.distributions));
  assert.match(versions(h)[0] ?? "", /^widget[-_]tools==2\.0$/i);
  const { names } = await unzip(t, h.path);
  // the dist-info, kept as the wheel spells it, is where importlib.metadata finds the entry point
  assert.ok(names.includes("Widget_Tools-2.0.dist-info/entry_points.txt"), names.join("\n"));
  assert.ok(!names.some((n) => n.startsWith("other_thing")), names.join("\n"));
  assert.deepEqual(await invoke(p, "h"), ["wtools ran", "wtools.cli:main", "wtools ran"]);
});
