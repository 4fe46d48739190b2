// Issue #5's acceptance for Python lambdas, end to end through the CLI against fixture indexes
// built in temp directories (no network, no pip, not the machine's wheel mirror): a real C
// extension compiled here and run from the unpacked zip, arm64 packages built on this host,
// glibc ceilings, pyproject.toml / uv.lock / -c inputs, and bad input that writes nothing.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import test, { type TestContext } from "node:test";
import { promisify } from "node:util";
import { isPythonRuntime } from "../../src/python/runtime.ts";
import {
  buildFixtureIndex,
  compileExtension,
  elfHeader,
  elfMachine,
  type FixtureIndex,
  type FixtureWheel,
  localPython,
} from "../lambda/support/fixture-index.ts";
import { type CliResult, runTug, runTugJson } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";

const exec = promisify(execFile);

interface LambdaArtifact {
  target: string;
  kind: string;
  path: string;
  digest: string;
  distributions: Array<{ name: string; version: string; wheel: string }>;
}

interface ProjectSpec {
  wheels: FixtureWheel[];
  /** name → flow map of the lambda, e.g. `{ runtime: python3.11, handler: lambdas/a.py:handler }`. */
  lambdas: Record<string, string>;
  /** Project files, path → text (handlers, requirements.txt, pyproject.toml, …). */
  files: Record<string, string>;
  /** python.requirements (default requirements.txt). */
  requirements?: string;
}

interface Project {
  root: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  index: FixtureIndex;
}

function tugYaml(indexUrl: string, spec: ProjectSpec): string {
  const lambdas = Object.entries(spec.lambdas).map(([name, flow]) => `  ${name}: ${flow}\n`);
  return `python:
  index_url: ${indexUrl}
  extra_index_urls: []
  requirements: ${spec.requirements ?? "requirements.txt"}
lambdas:
${lambdas.join("")}`;
}

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

async function project(t: TestContext, spec: ProjectSpec): Promise<Project> {
  const root = await tempDir(t, "tug-accept-");
  const index = await buildFixtureIndex(join(root, "index"), spec.wheels);
  const dir = join(root, "project");
  await writeFiles(dir, { "tug.yaml": tugYaml(index.simpleUrl, spec), ...spec.files });
  // A per-test cache; PIP_CONFIG_FILE and an empty TUG_INDEX_URL keep the machine's mirror out.
  const env = { TUG_CACHE: join(root, "cache"), PIP_CONFIG_FILE: "/dev/null", TUG_INDEX_URL: "" };
  return { root, dir, env, index };
}

/** A handler that imports `modules` and returns `expr` (Python) under "result". */
function handler(modules: string[], expr: string): string {
  return `${modules.map((m) => `import ${m}\n`).join("")}\n\ndef handler(event, context):\n    return {"result": ${expr}}\n`;
}

async function build(p: Project, args: string[] = []): Promise<Map<string, LambdaArtifact>> {
  const built = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build", ...args], {
    cwd: p.dir,
    env: p.env,
  });
  return new Map(built.artifacts.map((a) => [a.target, a]));
}

function artifact(built: Map<string, LambdaArtifact>, name: string): LambdaArtifact {
  const a = built.get(name);
  assert.ok(a, `no artifact ${name} in ${JSON.stringify([...built.keys()])}`);
  return a;
}

const versions = (a: LambdaArtifact) => a.distributions.map((d) => `${d.name}==${d.version}`);
const wheels = (a: LambdaArtifact) => a.distributions.map((d) => d.wheel);

/** Unpacks a zip with Info-ZIP's unzip (a reader independent of tug's) into a fresh directory. */
async function unzip(t: TestContext, zip: string): Promise<string> {
  const dir = await tempDir(t, "tug-unzip-");
  await exec("unzip", ["-q", zip, "-d", dir]);
  return dir;
}

async function readelfMachine(file: string): Promise<string> {
  const { stdout } = await exec("readelf", ["-h", file]);
  return /^\s*Machine:\s*(.+)$/m.exec(stdout)?.[1]?.trim() ?? stdout;
}

/** Every file under `dir` with size, mtime and sha256; undefined when `dir` does not exist. */
async function snapshot(dir: string): Promise<string[] | undefined> {
  const exists = await stat(dir).catch(() => undefined);
  if (!exists) return undefined;
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const s = await stat(path);
    const sha = createHash("sha256")
      .update(await readFile(path))
      .digest("hex");
    out.push(`${relative(dir, path)} ${s.size} ${s.mtimeMs} ${sha}`);
  }
  return out.sort();
}

/** Exit ≠ 0 and exactly one TugError on stderr: what, where and hint, no stack trace. */
function assertOneError(r: CliResult, what: RegExp, where: RegExp): void {
  assert.notEqual(r.code, 0, r.stderr);
  assert.equal(r.stderr.match(/^error:/gm)?.length, 1, r.stderr);
  assert.equal(r.stderr.match(/^internal error/gm), null, r.stderr);
  assert.match(r.stderr, what);
  const whereLine = /^ {2}where: (.*)$/m.exec(r.stderr)?.[1] ?? "";
  assert.match(whereLine, where, r.stderr);
  assert.match(r.stderr, /^ {2}hint: \S/m, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, r.stderr);
}

// ---------------------------------------------------------------- a real compiled extension

const FASTADD_C = `#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
  long a, b;
  if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
  return PyLong_FromLong(a + b);
}

static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b, in C"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastadd", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fastadd(void) { return PyModule_Create(&module); }
`;

test("a C extension compiled with gcc is packaged from its wheel and runs from the unpacked zip", async (t) => {
  const py = await localPython();
  const runtime = `python${py.version[0]}.${py.version[1]}`;
  assert.ok(isPythonRuntime(runtime), `the local python3 is ${runtime}, which is no Lambda runtime`);
  assert.ok(py.machine === "x86_64" || py.machine === "aarch64", `unexpected machine ${py.machine}`);
  const arch = py.machine === "aarch64" ? "arm64" : "x86_64";

  const build0 = await tempDir(t, "tug-ext-");
  const so = await compileExtension(build0, py, "_fastadd", FASTADD_C);
  const tag = `${py.tag}-${py.tag}-manylinux_2_17_${py.machine}`;
  const p = await project(t, {
    wheels: [
      {
        name: "fastadd",
        version: "1.0",
        tag,
        initPy: "from ._fastadd import add\n",
        files: { [`fastadd/${so.filename}`]: so.data },
      },
      // a newer version with no wheel for any Linux: the compiled one must still be chosen
      { name: "fastadd", version: "1.1", tag: `${py.tag}-${py.tag}-macosx_11_0_arm64` },
    ],
    lambdas: { calc: `{ runtime: ${runtime}, architecture: ${arch}, handler: lambdas/calc.py:handler }` },
    files: {
      "requirements.txt": "fastadd>=1.0\n",
      "lambdas/calc.py": handler(["fastadd"], 'fastadd.add(event["a"], event["b"])'),
    },
  });

  const calc = artifact(await build(p), "calc");
  assert.deepEqual(wheels(calc), [`fastadd-1.0-${tag}.whl`]);
  const unpacked = await unzip(t, calc.path);
  const shipped = join(unpacked, "fastadd", so.filename);
  assert.deepEqual(await readFile(shipped), so.data);
  assert.equal(elfMachine(so.data), py.machine);

  // -I: no PYTHONPATH, no user site; only the unpacked zip provides fastadd
  const script = [
    "import sys",
    `sys.path.insert(0, ${JSON.stringify(unpacked)})`,
    "import fastadd, fastadd._fastadd as ext",
    "print(fastadd.add(2, 40))",
    "print(ext.__file__)",
  ].join("\n");
  const ran = await exec("python3", ["-I", "-c", script]);
  assert.deepEqual(ran.stdout.trim().split("\n"), ["42", shipped]);

  const invoked = await runTug(["invoke", "calc", "--event", '{"a": 20, "b": 22}'], {
    cwd: p.dir,
    env: p.env,
  });
  assert.equal(invoked.code, 0, invoked.stderr);
  assert.deepEqual(JSON.parse(invoked.stdout), { result: 42 });
});

// ---------------------------------------------------------------- targets other than the host

const NATIVE_SO = "fakenative/_native.abi3.so";

function nativeWheel(machine: "x86_64" | "aarch64"): FixtureWheel {
  return {
    name: "fakenative",
    version: "1.0",
    tag: `cp311-abi3-manylinux_2_17_${machine}`,
    files: { [NATIVE_SO]: elfHeader(machine) },
  };
}

test("an arm64 lambda gets the aarch64 .so and an x86_64 lambda the x86_64 one, whatever the host", async (t) => {
  const p = await project(t, {
    wheels: [nativeWheel("x86_64"), nativeWheel("aarch64")],
    lambdas: {
      onarm: "{ runtime: python3.11, architecture: arm64, handler: lambdas/native.py:handler }",
      onx86: "{ runtime: python3.11, architecture: x86_64, handler: lambdas/native.py:handler }",
      onarm312: "{ runtime: python3.12, architecture: arm64, handler: lambdas/native.py:handler }",
    },
    files: {
      "requirements.txt": "fakenative\n",
      "lambdas/native.py": handler(["fakenative"], "fakenative.VERSION"),
    },
  });
  const built = await build(p);
  const cases: Array<[string, "x86_64" | "aarch64", string, RegExp]> = [
    ["onarm", "aarch64", "arm64", /AArch64/],
    ["onarm312", "aarch64", "arm64", /AArch64/],
    ["onx86", "x86_64", "x86_64", /X86-64/],
  ];
  for (const [name, machine, architecture, readelf] of cases) {
    const a = artifact(built, name);
    assert.deepEqual(wheels(a), [`fakenative-1.0-cp311-abi3-manylinux_2_17_${machine}.whl`], name);
    const so = join(await unzip(t, a.path), NATIVE_SO);
    const bytes = await readFile(so);
    assert.equal(bytes.readUInt16LE(18), machine === "aarch64" ? 183 : 62, `${name}: e_machine`);
    assert.equal(elfMachine(bytes), machine);
    assert.match(await readelfMachine(so), readelf, name);
    const meta = JSON.parse(await readFile(`${a.path}.json`, "utf8"));
    assert.equal(meta.architecture, architecture);
  }
});

test("a manylinux_2_28-only release is skipped under glibc 2.26 (python3.11) and chosen under 2.34 (python3.12)", async (t) => {
  const p = await project(t, {
    wheels: [
      { name: "fakeglibc", version: "2.0", tag: "cp39-abi3-manylinux_2_28_x86_64" },
      { name: "fakeglibc", version: "1.0", tag: "cp39-abi3-manylinux_2_17_x86_64" },
    ],
    lambdas: {
      al2: "{ runtime: python3.11, architecture: x86_64, handler: lambdas/g.py:handler }",
      al2023: "{ runtime: python3.12, architecture: x86_64, handler: lambdas/g.py:handler }",
      raised: '{ runtime: python3.11, architecture: x86_64, handler: lambdas/g.py:handler, glibc: "2.28" }',
    },
    files: { "requirements.txt": "fakeglibc\n", "lambdas/g.py": handler(["fakeglibc"], "fakeglibc.VERSION") },
  });
  const built = await build(p);
  assert.deepEqual(wheels(artifact(built, "al2")), ["fakeglibc-1.0-cp39-abi3-manylinux_2_17_x86_64.whl"]);
  assert.deepEqual(wheels(artifact(built, "al2023")), ["fakeglibc-2.0-cp39-abi3-manylinux_2_28_x86_64.whl"]);
  assert.deepEqual(wheels(artifact(built, "raised")), ["fakeglibc-2.0-cp39-abi3-manylinux_2_28_x86_64.whl"]);
});

test("a macOS-only distribution is one error naming it, the versions and tags looked at, the ceiling and a fix", async (t) => {
  const p = await project(t, {
    wheels: [
      { name: "fakemaconly", version: "1.0", tag: "cp311-cp311-macosx_11_0_arm64" },
      { name: "fakemaconly", version: "1.0", tag: "cp311-cp311-macosx_10_9_x86_64" },
      { name: "fakemaconly", version: "0.9", tag: "cp311-cp311-macosx_10_9_x86_64" },
      { name: "fakemsgspec", version: "0.18.6", tag: "py3-none-any" },
    ],
    lambdas: {
      fine: "{ runtime: python3.11, architecture: x86_64, handler: lambdas/fine.py:handler }",
      mac: "{ runtime: python3.11, architecture: x86_64, handler: lambdas/mac.py:handler }",
    },
    files: {
      "requirements.txt": "fakemsgspec\nfakemaconly>=0.9\n",
      "lambdas/fine.py": handler(["fakemsgspec"], "fakemsgspec.VERSION"),
      "lambdas/mac.py": handler(["fakemaconly"], "fakemaconly.VERSION"),
    },
  });
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assertOneError(
    r,
    /^error: no wheel of fakemaconly >=0\.9 fits python3\.11 on x86_64 \(glibc ≤ 2\.26, Amazon Linux 2\); looked at 1\.0 \(cp311-cp311-macosx_11_0_arm64, cp311-cp311-macosx_10_9_x86_64\); 0\.9 \(cp311-cp311-macosx_10_9_x86_64\)$/m,
    /requirements\.txt:2$/,
  );
  assert.match(
    r.stderr,
    /hint: fakemaconly publishes no manylinux wheels .*pin another version of fakemaconly/,
  );
  assert.equal(
    await snapshot(join(p.dir, ".tug", "out")),
    undefined,
    "nothing written, not even the fine lambda",
  );
});

// ---------------------------------------------------------------- bad input writes nothing

const BAD_BASE: ProjectSpec = {
  wheels: [
    { name: "fakemsgspec", version: "0.18.6", tag: "py3-none-any" },
    { name: "fakestructlog", version: "24.4.0", tag: "py3-none-any" },
    { name: "fakea", version: "1.0", tag: "py3-none-any" },
    { name: "fakea", version: "2.0", tag: "py3-none-any" },
    { name: "fakeb", version: "1.0", tag: "py3-none-any", requiresDist: ["fakea>=2"] },
  ],
  lambdas: {
    good: "{ runtime: python3.12, architecture: x86_64, handler: lambdas/good.py:handler }",
    other: "{ runtime: python3.11, architecture: arm64, handler: lambdas/other.py:handler }",
  },
  files: {
    "requirements.txt": "fakemsgspec>=0.18\nfakestructlog\n",
    "lambdas/good.py": handler(["fakemsgspec"], "fakemsgspec.VERSION"),
    "lambdas/other.py": handler(["fakestructlog"], "fakestructlog.VERSION"),
  },
};

interface BadCase {
  name: string;
  /** Files to overwrite (tug.yaml from a changed spec via `lambdas`). */
  files?: Record<string, string>;
  lambdas?: Record<string, string>;
  requirements?: string;
  what: RegExp;
  where: RegExp;
  hint?: RegExp;
}

const ZEROS = "0".repeat(64);
const BAD_CASES: BadCase[] = [
  {
    name: "unknown distribution",
    files: {
      "requirements.txt": "fakemsgspec>=0.18\nfakestructlog\nfakeghost>=1\n",
      "lambdas/other.py": handler(["fakeghost"], "fakeghost.VERSION"),
    },
    what: /^error: unknown distribution fakeghost: no index has files for it$/m,
    where: /^requirements\.txt:3$/,
  },
  {
    name: "conflicting pins",
    files: {
      "requirements.txt": "fakemsgspec>=0.18\nfakea==1.0\nfakeb\n",
      "lambdas/other.py": handler(["fakea", "fakeb"], "fakeb.VERSION"),
    },
    what: /^error: conflicting requirements for fakea: ==1\.0 \(required by requirements\.txt:2\), >=2 \(required by fakeb 1\.0\)/m,
    where: /^requirements\.txt:2, fakeb 1\.0$/,
    hint: /hint: .*change the specifier at requirements\.txt:2, or pin a version of fakeb whose requirement on fakea agrees$/m,
  },
  {
    name: "hash mismatch",
    files: { "requirements.txt": `fakemsgspec>=0.18\nfakestructlog --hash=sha256:${ZEROS}\n` },
    what: new RegExp(
      `^error: hash mismatch for fakestructlog-24\\.4\\.0-py3-none-any\\.whl: its sha256 is [0-9a-f]{64}, expected one of sha256:${ZEROS}$`,
      "m",
    ),
    where: /^requirements\.txt:2$/,
  },
  {
    name: "malformed requirement line",
    files: { "requirements.txt": "fakemsgspec>=0.18\nfakestructlog>=>24\n" },
    what: /^error: invalid requirement "fakestructlog>=>24": ">=>24" is not a version specifier$/m,
    where: /^requirements\.txt:2$/,
  },
  {
    name: "malformed pyproject.toml",
    requirements: "pyproject.toml",
    files: {
      "pyproject.toml": '[project]\nname = "x"\ndependencies = [\n  "fakemsgspec"\n  "fakestructlog",\n]\n',
    },
    what: /^error: pyproject\.toml is not valid TOML: /m,
    where: /^pyproject\.toml:5:\d+$/,
  },
  {
    name: "handler file missing",
    lambdas: { other: "{ runtime: python3.11, architecture: arm64, handler: lambdas/gone.py:handler }" },
    what: /^error: handler file lambdas\/gone\.py does not exist$/m,
    where: /^lambdas\.other \(.*tug\.yaml:\d+\)$/,
    hint: /FILE:FUNCTION/,
  },
  {
    name: "unknown runtime python3.8",
    lambdas: { other: "{ runtime: python3.8, architecture: arm64, handler: lambdas/other.py:handler }" },
    what: /^error: unknown Python Lambda runtime "python3\.8"$/m,
    where: /^lambdas\.other \(.*tug\.yaml:\d+\)$/,
    hint: /use one of python3\.9, .*python3\.14$/m,
  },
  {
    name: "unknown runtime python2.7",
    lambdas: { other: "{ runtime: python2.7, architecture: arm64, handler: lambdas/other.py:handler }" },
    what: /^error: unknown Python Lambda runtime "python2\.7"$/m,
    where: /^lambdas\.other \(.*tug\.yaml:\d+\)$/,
    hint: /use one of python3\.9, .*python3\.14$/m,
  },
];

test("bad input: one clear error each, and .tug/out untouched", async (t) => {
  const base = await project(t, BAD_BASE);
  const built = await build(base);
  assert.deepEqual(versions(artifact(built, "good")), ["fakemsgspec==0.18.6"]);
  assert.deepEqual(versions(artifact(built, "other")), ["fakestructlog==24.4.0"]);
  const out = join(base.dir, ".tug", "out");
  const before = await snapshot(out);
  assert.ok(before && before.length >= 4, JSON.stringify(before));

  for (const c of BAD_CASES) {
    await t.test(c.name, async () => {
      const dir = join(base.root, c.name.replace(/\W+/g, "-"));
      await cp(base.dir, dir, { recursive: true, preserveTimestamps: true });
      const spec = { ...BAD_BASE, lambdas: { ...BAD_BASE.lambdas, ...c.lambdas } };
      if (c.requirements) spec.requirements = c.requirements;
      await writeFiles(dir, { "tug.yaml": tugYaml(base.index.simpleUrl, spec), ...c.files });
      // taken from the copy: copying keeps the bytes but rounds the mtimes
      const copied = await snapshot(join(dir, ".tug", "out"));
      assert.equal(copied?.length, before.length);
      const r = await runTug(["build"], { cwd: dir, env: base.env });
      assertOneError(r, c.what, c.where);
      if (c.hint) assert.match(r.stderr, c.hint);
      assert.deepEqual(await snapshot(join(dir, ".tug", "out")), copied);
    });
  }
});

// ---------------------------------------------------------------- pyproject.toml, uv.lock, -c

const TALK_WHEELS: FixtureWheel[] = [
  { name: "fakemsgspec", version: "0.19.0", tag: "py3-none-any" },
  { name: "fakemsgspec", version: "0.18.6", tag: "py3-none-any" },
  { name: "fakestructlog", version: "24.4.0", tag: "py3-none-any" },
  { name: "fakematplotlib", version: "3.10.0", tag: "py3-none-any", requiresDist: ["fakenumpy>=1.0"] },
  { name: "fakematplotlib", version: "3.9.2", tag: "py3-none-any", requiresDist: ["fakenumpy>=1.0"] },
  { name: "fakenumpy", version: "2.0.0", tag: "cp311-cp311-manylinux_2_17_x86_64" },
  { name: "fakenumpy", version: "1.26.4", tag: "cp311-cp311-manylinux_2_17_x86_64" },
  { name: "fakenumpy", version: "1.26.4", tag: "cp311-cp311-manylinux_2_17_aarch64" },
];

const TALK_LAMBDAS = {
  echo: "{ runtime: python3.11, architecture: x86_64, handler: lambdas/echo.py:handler }",
  plot: "{ runtime: python3.11, architecture: arm64, handler: lambdas/plot.py:handler }",
};

const TALK_FILES = {
  "lambdas/echo.py": handler(
    ["fakemsgspec", "fakestructlog"],
    "[fakemsgspec.VERSION, fakestructlog.VERSION]",
  ),
  "lambdas/plot.py": handler(["fakematplotlib"], "fakematplotlib.VERSION"),
};

test("pyproject.toml: [project].dependencies are the requirements", async (t) => {
  const p = await project(t, {
    wheels: TALK_WHEELS,
    lambdas: TALK_LAMBDAS,
    requirements: "pyproject.toml",
    files: {
      ...TALK_FILES,
      "pyproject.toml": `[project]
name = "talk"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = [
    "fakemsgspec>=0.18,<0.19",
    "fakestructlog",
    "fakematplotlib",
]

[dependency-groups]
dev = ["fakepytest"]
`,
    },
  });
  const built = await build(p);
  assert.deepEqual(versions(artifact(built, "echo")), ["fakemsgspec==0.18.6", "fakestructlog==24.4.0"]);
  // fakenumpy 2.0.0 has no aarch64 wheel: the arm64 plot lambda gets 1.26.4
  assert.deepEqual(versions(artifact(built, "plot")), ["fakematplotlib==3.10.0", "fakenumpy==1.26.4"]);
  const invoked = await runTug(["invoke", "echo", "--event", "{}"], { cwd: p.dir, env: p.env });
  assert.equal(invoked.code, 0, invoked.stderr);
  assert.deepEqual(JSON.parse(invoked.stdout), { result: ["0.18.6", "24.4.0"] });
});

function sha256Of(index: FixtureIndex, wheel: string): Promise<string> {
  const path = index.wheels.get(wheel);
  assert.ok(path, wheel);
  return readFile(path).then((b) => createHash("sha256").update(b).digest("hex"));
}

test("uv.lock: the locked versions and wheel hashes are what the zips get", async (t) => {
  const p = await project(t, {
    wheels: TALK_WHEELS,
    lambdas: TALK_LAMBDAS,
    requirements: "uv.lock",
    files: TALK_FILES,
  });
  const hash = (w: string) => sha256Of(p.index, w);
  const lock = `version = 1
revision = 2
requires-python = ">=3.11"

[[package]]
name = "fakematplotlib"
version = "3.9.2"
source = { registry = "${p.index.simpleUrl}" }
dependencies = [
    { name = "fakenumpy" },
]
wheels = [
    { url = "${p.index.simpleUrl}../files/fakematplotlib-3.9.2-py3-none-any.whl", hash = "sha256:${await hash("fakematplotlib-3.9.2-py3-none-any.whl")}", size = 1 },
]

[[package]]
name = "fakemsgspec"
version = "0.18.6"
source = { registry = "${p.index.simpleUrl}" }
wheels = [
    { url = "${p.index.simpleUrl}../files/fakemsgspec-0.18.6-py3-none-any.whl", hash = "sha256:${await hash("fakemsgspec-0.18.6-py3-none-any.whl")}", size = 1 },
]

[[package]]
name = "fakenumpy"
version = "1.26.4"
source = { registry = "${p.index.simpleUrl}" }
wheels = [
    { url = "${p.index.simpleUrl}../files/fakenumpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.whl", hash = "sha256:${await hash("fakenumpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.whl")}", size = 1 },
    { url = "${p.index.simpleUrl}../files/fakenumpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl", hash = "sha256:${await hash("fakenumpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl")}", size = 1 },
]

[[package]]
name = "fakestructlog"
version = "24.4.0"
source = { registry = "${p.index.simpleUrl}" }
wheels = [
    { url = "${p.index.simpleUrl}../files/fakestructlog-24.4.0-py3-none-any.whl", hash = "sha256:${await hash("fakestructlog-24.4.0-py3-none-any.whl")}", size = 1 },
]

[[package]]
name = "talk"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "fakematplotlib" },
    { name = "fakemsgspec" },
    { name = "fakestructlog" },
]

[package.metadata]
requires-dist = [
    { name = "fakematplotlib" },
    { name = "fakemsgspec", specifier = ">=0.18" },
    { name = "fakestructlog" },
]
`;
  await writeFile(join(p.dir, "uv.lock"), lock);
  const built = await build(p);
  // the index has fakemsgspec 0.19.0, fakematplotlib 3.10.0 and fakenumpy 2.0.0; the lock wins
  assert.deepEqual(versions(artifact(built, "echo")), ["fakemsgspec==0.18.6", "fakestructlog==24.4.0"]);
  const plot = artifact(built, "plot");
  assert.deepEqual(wheels(plot), [
    "fakematplotlib-3.9.2-py3-none-any.whl",
    "fakenumpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.whl",
  ]);
  const invoked = await runTug(["invoke", "plot", "--event", "{}"], { cwd: p.dir, env: p.env });
  assert.equal(invoked.code, 0, invoked.stderr);
  assert.deepEqual(JSON.parse(invoked.stdout), { result: "3.9.2" });

  // a lock whose hash the index's bytes do not match fails, and the zips stay as they were
  const out = join(p.dir, ".tug", "out");
  const before = await snapshot(out);
  const numpyHash = await hash("fakenumpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.whl");
  await writeFile(join(p.dir, "uv.lock"), lock.replace(numpyHash, ZEROS));
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assertOneError(
    r,
    /^error: hash mismatch for fakenumpy-1\.26\.4-cp311-cp311-manylinux_2_17_aarch64\.whl: /m,
    /fakematplotlib 3\.9\.2/,
  );
  assert.match(r.stderr, /uv lock/);
  assert.deepEqual(await snapshot(out), before);
});

test("-c constraints.txt: an == constraint pins a transitive dependency without requiring it", async (t) => {
  const p = await project(t, {
    wheels: TALK_WHEELS,
    lambdas: TALK_LAMBDAS,
    files: {
      ...TALK_FILES,
      "requirements.txt": "fakemsgspec\nfakestructlog\nfakematplotlib\n-c constraints.txt\n",
      "constraints.txt": "fakenumpy==1.26.4\nfakemsgspec==0.18.6\nfakeunused==9.9\n",
    },
  });
  const built = await build(p);
  assert.deepEqual(versions(artifact(built, "echo")), ["fakemsgspec==0.18.6", "fakestructlog==24.4.0"]);
  assert.deepEqual(wheels(artifact(built, "plot")), [
    "fakematplotlib-3.10.0-py3-none-any.whl",
    "fakenumpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.whl",
  ]);

  // the constraints file is an input of the build: editing it changes what echo gets
  await writeFile(join(p.dir, "constraints.txt"), "fakenumpy==1.26.4\nfakemsgspec==0.19.0\n");
  const again = await build(p);
  assert.deepEqual(versions(artifact(again, "echo")), ["fakemsgspec==0.19.0", "fakestructlog==24.4.0"]);
});
