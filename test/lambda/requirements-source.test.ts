import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { TugError } from "../../src/errors.ts";
import { simpleIndex } from "../../src/python/index-client.ts";
import { parseRequirement } from "../../src/python/requirement.ts";
import { readRequirementsSource } from "../../src/python/requirements-source.ts";
import { resolve } from "../../src/python/resolver.ts";
import { parseRuntime } from "../../src/python/runtime.ts";
import { tempDir } from "../support/tmp.ts";
import { buildFixtureIndex } from "./support/fixture-index.ts";

const WHERE = "python.requirements (tug.yaml:4)";
const SHA = (c: string) => `sha256:${c.repeat(64)}`;

async function project(t: TestContext, files: Record<string, string>): Promise<string> {
  const dir = await tempDir(t, "tug-reqsrc-");
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

async function rejects(p: Promise<unknown>): Promise<TugError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TugError, `expected a TugError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected a TugError");
}

const reqs = (...lines: string[]) => lines.map((l) => parseRequirement(l));
const sha256 = async (file: string) =>
  createHash("sha256")
    .update(await readFile(file))
    .digest("hex");
const summary = (rs: { name: string; specifier: string; line: number }[]) =>
  rs.map((r) => `${r.name}${r.specifier} @${r.line}`);

test("requirements.txt with -r includes and --hash pins", async (t) => {
  const dir = await project(t, {
    "requirements.txt": `msgspec>=0.18 --hash=${SHA("a")}\n-r more.txt\n`,
    "more.txt": "structlog==24.4.0\n-r requirements.txt\n",
  });
  const src = await readRequirementsSource(join(dir, "requirements.txt"), WHERE);
  assert.deepEqual(summary(src.requirements), ["msgspec>=0.18 @1", "structlog==24.4.0 @1"]);
  assert.deepEqual([...src.hashes], [["msgspec", [SHA("a")]]]);
  assert.deepEqual(src.pins, new Map());
  assert.deepEqual(
    [...src.fileHashes.keys()],
    [join(dir, "requirements.txt"), join(dir, "more.txt")],
    "absolute paths, for cache keys",
  );
  for (const [file, sha] of src.fileHashes) assert.equal(sha, await sha256(file));
});

test("with the project directory, files are named relative to it: in errors, requirements and includes", async (t) => {
  const dir = await project(t, {
    "requirements.txt": "fakeyaml\n-r more.txt\n",
    "more.txt": "fakemsgspec\nfoo >>1\n",
    "ok.txt": "fakeyaml\n-r sub/more-ok.txt\n",
  });
  await mkdir(join(dir, "sub"));
  await writeFile(join(dir, "sub", "more-ok.txt"), "\nfakemsgspec\n");
  const ok = await readRequirementsSource(join(dir, "ok.txt"), WHERE, dir);
  assert.deepEqual(
    ok.requirements.map((r) => `${r.name} ${r.file}:${r.line}`),
    ["fakeyaml ok.txt:1", "fakemsgspec sub/more-ok.txt:2"],
  );
  assert.deepEqual([...ok.fileHashes.keys()], [join(dir, "ok.txt"), join(dir, "sub", "more-ok.txt")]);
  const bad = await rejects(readRequirementsSource(join(dir, "requirements.txt"), WHERE, dir));
  assert.match(bad.what, /invalid requirement "foo >>1"/);
  assert.equal(bad.where, "more.txt:2");
});

test("-c constraints: == lines become pins, others constraints; none become requirements", async (t) => {
  const dir = await project(t, {
    "requirements.txt": "fakematplotlib\n-c constraints.txt\n",
    "constraints.txt": [
      "fakenumpy==1.26.4",
      `fakepillow<11 --hash=${SHA("b")}`,
      'fakescipy==1.0 ; python_version < "3.12"',
      "-c more-constraints.txt",
    ].join("\n"),
    "more-constraints.txt": "fakeyaml~=6.0\n",
  });
  const src = await readRequirementsSource(join(dir, "requirements.txt"), WHERE);
  assert.deepEqual(summary(src.requirements), ["fakematplotlib @1"]);
  assert.deepEqual([...src.pins], [["fakenumpy", "1.26.4"]]);
  assert.deepEqual(
    (src.constraints ?? []).map((c) => `${c.name}${c.specifier} ${c.file.slice(dir.length + 1)}:${c.line}`),
    [
      "fakepillow<11 constraints.txt:2",
      "fakescipy==1.0 constraints.txt:3",
      "fakeyaml~=6.0 more-constraints.txt:1",
    ],
  );
  assert.deepEqual([...src.hashes], [["fakepillow", [SHA("b")]]]);
  assert.equal(src.fileHashes.size, 3);
});

test("a constraint with extras is refused where it is written", async (t) => {
  const dir = await project(t, { "requirements.txt": "-c c.txt\n", "c.txt": "\nfoo[bar]==1\n" });
  const e = await rejects(readRequirementsSource(join(dir, "requirements.txt"), WHERE, dir));
  assert.match(e.what, /constraint "foo\[bar\]==1" names extras/);
  assert.equal(e.where, "c.txt:2");
  const absolute = await rejects(readRequirementsSource(join(dir, "requirements.txt"), WHERE));
  assert.equal(absolute.where, `${join(dir, "c.txt")}:2`, "no display root: absolute");
});

test("a missing requirements or constraints file names it and where it was asked for", async (t) => {
  const dir = await project(t, { "requirements.txt": "foo\n-c nope.txt\n" });
  const missing = await rejects(readRequirementsSource(join(dir, "absent.txt"), WHERE, dir));
  assert.equal(missing.what, "cannot read requirements file absent.txt");
  assert.equal(missing.where, WHERE);
  const constraint = await rejects(readRequirementsSource(join(dir, "requirements.txt"), WHERE, dir));
  assert.equal(constraint.what, "cannot read requirements file nope.txt");
  assert.equal(constraint.where, "requirements.txt:2");
  const toml = await rejects(readRequirementsSource(join(dir, "sub", "pyproject.toml"), WHERE, dir));
  assert.equal(toml.what, "cannot read requirements file sub/pyproject.toml");
});

test("pyproject.toml: [project].dependencies with their lines", async (t) => {
  const dir = await project(t, {
    "pyproject.toml": [
      "[build-system]",
      'requires = ["hatchling"]',
      "",
      "[project]",
      'name = "talk"',
      'version = "0.1.0"',
      "dependencies = [",
      '  "fakemsgspec>=0.18",',
      "  'fakestructlog',",
      "  \"fakematplotlib==3.9.2; python_version >= '3.11'\",",
      "]",
      "",
      "[project.optional-dependencies]",
      'dev = ["pytest"]',
    ].join("\n"),
  });
  const file = join(dir, "pyproject.toml");
  const src = await readRequirementsSource(file, WHERE, dir);
  assert.deepEqual(summary(src.requirements), [
    "fakemsgspec>=0.18 @8",
    "fakestructlog @9",
    "fakematplotlib==3.9.2 @10",
  ]);
  assert.equal(src.requirements[2]?.markerText, "python_version >= '3.11'");
  assert.equal(src.requirements[0]?.file, "pyproject.toml");
  assert.deepEqual(src.pins, new Map());
  assert.deepEqual(src.hashes, new Map());
  assert.deepEqual([...src.fileHashes], [[file, await sha256(file)]]);
});

test("pyproject.toml: no dependencies is none; dynamic, missing [project] and bad entries are clear errors", async (t) => {
  const dir = await project(t, { "pyproject.toml": '[project]\nname = "x"\n' });
  const empty = await readRequirementsSource(join(dir, "pyproject.toml"), WHERE);
  assert.deepEqual(empty.requirements, []);

  const cases: Array<[string, RegExp, number]> = [
    ['[project]\nname = "x"\ndynamic = ["dependencies"]\n', /dependencies is dynamic/, 3],
    ['[tool.poetry]\nname = "x"\n', /no \[project\] table/, 1],
    ['[project]\nname = "x"\ndependencies = "foo"\n', /must be an array of strings/, 3],
    [
      '[project]\nname = "x"\ndependencies = [\n  "foo >= 1",\n  "bar (>=",\n]\n',
      /invalid requirement "bar \(>="/,
      5,
    ],
  ];
  for (const [text, what, line] of cases) {
    const d = await project(t, { "pyproject.toml": text });
    const e = await rejects(readRequirementsSource(join(d, "pyproject.toml"), WHERE, d));
    assert.match(e.what, what);
    assert.equal(e.where, `pyproject.toml:${line}`);
    assert.ok(e.hint, e.what);
  }
});

test("malformed TOML is one error naming the file, line and column", async (t) => {
  for (const name of ["pyproject.toml", "uv.lock"]) {
    const dir = await project(t, { [name]: 'version = 1\n\n[project\nname = "x"\n' });
    const e = await rejects(readRequirementsSource(join(dir, name), WHERE, dir));
    assert.match(e.what, new RegExp(`^${name.replace(".", "\\.")} is not valid TOML: `));
    assert.equal(e.where, `${name}:3:9`);
    assert.match(e.hint ?? "", /fix the syntax/);
  }
});

const UV_LOCK = `version = 1
revision = 2
requires-python = ">=3.11"

[[package]]
name = "fakematplotlib"
version = "3.9.2"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "fakenumpy" },
]
sdist = { url = "https://example.invalid/fakematplotlib-3.9.2.tar.gz", hash = "${SHA("0")}", size = 1 }
wheels = [
    { url = "https://example.invalid/fakematplotlib-3.9.2-py3-none-any.whl", hash = "${SHA("1")}", size = 1 },
]

[[package]]
name = "fakenumpy"
version = "1.26.4"
source = { registry = "https://pypi.org/simple" }
wheels = [
    { url = "https://example.invalid/fakenumpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl", hash = "${SHA("2")}", size = 1 },
    { url = "https://example.invalid/fakenumpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.whl", hash = "${SHA("3")}", size = 1 },
]

[[package]]
name = "Fake_Msgspec"
version = "0.18.6"
source = { registry = "https://pypi.org/simple" }
wheels = [
    { url = "https://example.invalid/fake_msgspec-0.18.6-py3-none-any.whl", hash = "${SHA("4")}", size = 1 },
]

[[package]]
name = "helpers"
version = "0.1.0"
source = { editable = "packages/helpers" }
dependencies = [
    { name = "fakestructlog" },
]

[package.metadata]
requires-dist = [{ name = "fakestructlog", specifier = ">=24" }]

[[package]]
name = "fakestructlog"
version = "24.4.0"
source = { registry = "https://pypi.org/simple" }
wheels = [
    { url = "https://example.invalid/fakestructlog-24.4.0-py3-none-any.whl", hash = "${SHA("5")}", size = 1 },
]

[[package]]
name = "pytest"
version = "8.4.1"
source = { registry = "https://pypi.org/simple" }
wheels = [
    { url = "https://example.invalid/pytest-8.4.1-py3-none-any.whl", hash = "${SHA("6")}", size = 1 },
]

[[package]]
name = "talk"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "fake-msgspec" },
    { name = "fakematplotlib" },
    { name = "helpers" },
]

[package.dev-dependencies]
dev = [
    { name = "pytest" },
]

[package.metadata]
requires-dist = [
    { name = "fake-msgspec", specifier = ">=0.18" },
    { name = "fakematplotlib", extras = ["gui"], marker = "python_full_version >= '3.11'", specifier = "==3.9.2" },
    { name = "helpers", editable = "packages/helpers" },
]

[package.metadata.requires-dev]
dev = [{ name = "pytest", specifier = ">=8" }]
`;

test("uv.lock: the root project's requires-dist (and a workspace member's) as requirements, every version and wheel hash as pins", async (t) => {
  const dir = await project(t, { "uv.lock": UV_LOCK });
  const file = join(dir, "uv.lock");
  const src = await readRequirementsSource(file, WHERE, dir);
  assert.deepEqual(summary(src.requirements), [
    "fake-msgspec>=0.18 @78",
    "fakematplotlib==3.9.2 @79",
    "fakestructlog>=24 @43",
  ]);
  assert.deepEqual(src.requirements[1]?.extras, ["gui"]);
  assert.equal(src.requirements[1]?.markerText, "python_full_version >= '3.11'");
  assert.equal(src.requirements[0]?.file, "uv.lock");
  assert.deepEqual(Object.fromEntries(src.pins), {
    fakematplotlib: "3.9.2",
    fakenumpy: "1.26.4",
    "fake-msgspec": "0.18.6",
    fakestructlog: "24.4.0",
    pytest: "8.4.1",
  });
  assert.deepEqual(src.hashes.get("fakenumpy"), [SHA("2"), SHA("3")]);
  assert.deepEqual(src.hashes.get("fakematplotlib"), [SHA("1")], "the sdist's hash is not a wheel pin");
  assert.equal(src.hashes.has("helpers"), false);
  assert.deepEqual([...src.fileHashes.keys()], [file]);
});

test("uv.lock without metadata: the root's dependencies by name; forked versions keep hashes but no pin", async (t) => {
  const lock = `version = 1

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [
    { name = "fakenumpy", marker = "python_full_version < '3.12'" },
    { name = "fakenumpy", marker = "python_full_version >= '3.12'" },
]

[[package]]
name = "fakenumpy"
version = "1.26.4"
source = { registry = "https://pypi.org/simple" }
resolution-markers = ["python_full_version < '3.12'"]
wheels = [{ url = "https://example.invalid/a.whl", hash = "${SHA("a")}" }]

[[package]]
name = "fakenumpy"
version = "2.0.0"
source = { registry = "https://pypi.org/simple" }
resolution-markers = ["python_full_version >= '3.12'"]
wheels = [{ url = "https://example.invalid/b.whl", hash = "${SHA("b")}" }]
`;
  const dir = await project(t, { "uv.lock": lock });
  const src = await readRequirementsSource(join(dir, "uv.lock"), WHERE);
  assert.deepEqual(
    src.requirements.map((r) => `${r.name} ${r.markerText}`),
    ["fakenumpy python_full_version < '3.12'", "fakenumpy python_full_version >= '3.12'"],
  );
  assert.equal(src.pins.has("fakenumpy"), false);
  assert.deepEqual(src.hashes.get("fakenumpy"), [SHA("a"), SHA("b")]);
});

test("uv.lock: the root found through the sibling pyproject.toml's name", async (t) => {
  const lock = `version = 1

[[package]]
name = "fakeyaml"
version = "6.0.2"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "My.App"
version = "1.0"
source = { directory = "app" }
dependencies = [{ name = "fakeyaml" }]
`;
  const dir = await project(t, { "uv.lock": lock, "pyproject.toml": '[project]\nname = "my-app"\n' });
  const src = await readRequirementsSource(join(dir, "uv.lock"), WHERE);
  assert.deepEqual(summary(src.requirements), ["fakeyaml @12"]);
  assert.deepEqual(Object.fromEntries(src.pins), { fakeyaml: "6.0.2" });
  assert.equal(src.hashes.size, 0);
  assert.deepEqual([...src.fileHashes.keys()], [join(dir, "uv.lock"), join(dir, "pyproject.toml")]);
});

test("uv.lock: bad content is one clear error with the file and line", async (t) => {
  const cases: Array<[string, RegExp, number]> = [
    ["version = 2\n", /lock file version 2 is not supported/, 1],
    ['version = 1\n\n[[package]]\nname = "x"\nsource = { registry = "r" }\n', /no root project/, 1],
    ['version = 1\n\n[[package]]\nversion = "1.0"\n', /a \[\[package\]\] has no name/, 3],
    [
      'version = 1\n\n[[package]]\nname = "app"\nsource = { virtual = "." }\n\n[[package]]\nname = "x"\nversion = 1\n',
      /version of x is not a string/,
      7,
    ],
    [
      'version = 1\n\n[[package]]\nname = "app"\nsource = { virtual = "." }\ndependencies = [\n  { name = "lib", git = "https://example.invalid/lib.git" },\n]\n',
      /lib comes from git https:\/\/example\.invalid\/lib\.git/,
      7,
    ],
    [
      'version = 1\n\n[[package]]\nname = "app"\nsource = { virtual = "." }\n\n[package.metadata]\nrequires-dist = [{ name = "lib", specifier = ">=" }]\n',
      /invalid requirement "lib>="/,
      8,
    ],
  ];
  for (const [text, what, line] of cases) {
    const dir = await project(t, { "uv.lock": text });
    const e = await rejects(readRequirementsSource(join(dir, "uv.lock"), WHERE, dir));
    assert.match(e.what, what);
    assert.equal(e.where, `uv.lock:${line}`, e.what);
    assert.ok(e.hint, e.what);
  }
});

test("file names decide the format: other names are pip requirements files", async (t) => {
  const dir = await project(t, { "requirements.in": "fakeyaml\n", "deps.toml": "fakeyaml>=6\n" });
  const a = await readRequirementsSource(join(dir, "requirements.in"), WHERE);
  const b = await readRequirementsSource(join(dir, "deps.toml"), WHERE);
  assert.deepEqual(summary(a.requirements), ["fakeyaml @1"]);
  assert.deepEqual(summary(b.requirements), ["fakeyaml>=6 @1"]);
});

test("the resolver honours -c constraints: they narrow versions, add nothing, and show up in conflicts", async (t) => {
  const root = await tempDir(t, "tug-constraints-");
  const built = await buildFixtureIndex(join(root, "index"), [
    { name: "fakematplotlib", version: "3.9.2", tag: "py3-none-any", requiresDist: ["fakenumpy>=1.0"] },
    { name: "fakenumpy", version: "2.0.0", tag: "py3-none-any" },
    { name: "fakenumpy", version: "1.26.4", tag: "py3-none-any" },
    { name: "fakenumpy", version: "1.25.0", tag: "py3-none-any" },
    { name: "fakepillow", version: "11.0", tag: "py3-none-any" },
  ]);
  const index = simpleIndex({ urls: [built.simpleUrl], cacheDir: join(root, "cache") });
  const target = parseRuntime("python3.11", { arch: "x86_64" });
  const dir = await project(t, {
    "requirements.txt": "fakematplotlib\n-c constraints.txt\n",
    "constraints.txt": "fakenumpy<2\nfakenumpy!=1.26.4\nfakepillow<11\n",
  });
  const src = await readRequirementsSource(join(dir, "requirements.txt"), WHERE);
  const opts = { requirements: src.requirements, target, index, pins: src.pins, hashes: src.hashes };
  const narrowed = await resolve({ ...opts, constraints: src.constraints ?? [] });
  assert.deepEqual(
    narrowed.distributions.map((d) => `${d.name} ${d.version}`),
    ["fakematplotlib 3.9.2", "fakenumpy 1.25.0"],
    "fakepillow is constrained but nobody requires it",
  );
  assert.deepEqual(narrowed.distributions[1]?.requiredBy, ["fakematplotlib"]);

  const clash = await rejects(
    resolve({
      ...opts,
      requirements: [...src.requirements, ...reqs("fakenumpy>=2")],
      constraints: src.constraints ?? [],
    }),
  );
  assert.match(clash.what, /^conflicting requirements for fakenumpy: /);
  assert.match(clash.what, /<2 \(constraint at .*constraints\.txt:1\)/);
  assert.match(clash.what, />=2 \(required by requirements\)/);
  assert.match(clash.where ?? "", /constraints\.txt:1/);

  // python_version markers are evaluated for the target, not the host
  const marked = await resolve({
    ...opts,
    constraints: reqs('fakenumpy<2 ; python_version >= "3.12"'),
  });
  assert.deepEqual(
    marked.distributions.map((d) => `${d.name} ${d.version}`),
    ["fakematplotlib 3.9.2", "fakenumpy 2.0.0"],
  );
});

test("requirements files, pyproject.toml and uv.lock are read bounded: an oversized one is one error naming it", async (t) => {
  const big = `${"# padding\n".repeat(110_000)}numpy\n`; // just over 1 MiB
  const dir = await project(t, { "requirements.txt": big, "pyproject.toml": `# ${"x".repeat(1_100_000)}\n` });
  const tooBig = await rejects(readRequirementsSource(join(dir, "requirements.txt"), WHERE, dir));
  assert.match(tooBig.what, /^requirements file is too big \(.*1 MiB/);
  assert.equal(tooBig.where, "requirements.txt");
  const pyproject = await rejects(readRequirementsSource(join(dir, "pyproject.toml"), WHERE, dir));
  assert.match(pyproject.what, /^pyproject.toml is too big/);
  // uv.lock may be 16 MiB: a 2 MiB lock is read (and then judged on its content).
  await writeFile(join(dir, "uv.lock"), `# ${"x".repeat(2 << 20)}\nversion = 7\n`);
  const lock = await rejects(readRequirementsSource(join(dir, "uv.lock"), WHERE, dir));
  assert.doesNotMatch(lock.what, /too big/);
  // An include over the limit is named too.
  await writeFile(join(dir, "base.txt"), "-r requirements.txt\n");
  const included = await rejects(readRequirementsSource(join(dir, "base.txt"), WHERE, dir));
  assert.equal(included.where, "requirements.txt");
});
