// Issue #10 items 4, 5, 7, 9 and 10 end to end through the CLI: the runtime's real patch release in
// markers, index options inside requirements files, upload: s3, source roots in the zip and the
// handler string, and syntax errors as build errors. Fixture indexes are built in temp directories
// (no network, not the machine's wheel mirror); `tug invoke` runs the handler isolated.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import test, { type TestContext } from "node:test";
import { promisify } from "node:util";
import { loadProject } from "../../src/config/load.ts";
import { devLambdas } from "../../src/dev/lambda-dev.ts";
import type { UpdateReport } from "../../src/dev/report.ts";
import { buildFixtureIndex, type FixtureIndex, type FixtureWheel } from "../lambda/support/fixture-index.ts";
import { type CliResult, runTug } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";

const exec = promisify(execFile);

interface Project {
  root: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  index: FixtureIndex;
}

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

/** A project whose tug.yaml is `yaml(indexUrl)`; a per-test cache and no machine index settings. */
async function project(
  t: TestContext,
  wheels: FixtureWheel[],
  yaml: (indexUrl: string) => string,
  files: Record<string, string>,
): Promise<Project> {
  const root = await tempDir(t, "tug-fidelity-");
  const index = await buildFixtureIndex(join(root, "index"), wheels);
  const dir = join(root, "project");
  await writeFiles(dir, { "tug.yaml": yaml(index.simpleUrl), ...files });
  const env = { TUG_CACHE: join(root, "cache"), PIP_CONFIG_FILE: "/dev/null", TUG_INDEX_URL: "" };
  return { root, dir, env, index };
}

const tug = (p: Project, args: string[]) => runTug(args, { cwd: p.dir, env: p.env });

async function invoke(p: Project, name: string): Promise<unknown> {
  const r = await tug(p, ["invoke", name, "--event", "{}"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Exit ≠ 0 and exactly one TugError on stderr, no stack trace. */
function assertOneError(r: CliResult, what: RegExp): void {
  assert.notEqual(r.code, 0, r.stderr);
  assert.equal(r.stderr.match(/^error:/gm)?.length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, r.stderr);
  assert.match(r.stderr, what);
}

async function zipNames(zip: string): Promise<string[]> {
  const { stdout } = await exec("unzip", ["-Z1", zip]);
  return stdout.split("\n").filter((l) => l !== "" && !l.endsWith("/"));
}

const pure = (name: string, version = "1.0"): FixtureWheel => ({ name, version, tag: "py3-none-any" });

// ---------------------------------------------------------------- 4: python_full_version

test("python_full_version is the runtime's patch release, python_version overrides it, and an error names the selecting marker", async (t) => {
  const p = await project(
    t,
    [pure("oldfix"), pure("newfix"), { name: "maconly", version: "1.0", tag: "py3-none-macosx_11_0_arm64" }],
    (url) => `python:
  index_url: ${url}
lambdas:
  today: { runtime: python3.11, handler: fn.py:handler }
  frozen: { runtime: python3.11, handler: fn.py:handler, python_version: "3.11.2" }
`,
    {
      "requirements.txt": `oldfix ; python_full_version < '3.11.3'\nnewfix ; python_full_version >= '3.11.3'\n`,
      "fn.py": `try:
    import oldfix as impl
except ImportError:
    import newfix as impl


def handler(event, context):
    return {"impl": impl.__name__}
`,
    },
  );
  assert.deepEqual(await invoke(p, "today"), { impl: "newfix" });
  assert.deepEqual(await invoke(p, "frozen"), { impl: "oldfix" });
  const zips = join(p.dir, ".tug", "out", "lambdas");
  assert.ok((await zipNames(join(zips, "today.zip"))).includes("newfix/__init__.py"));
  assert.ok(!(await zipNames(join(zips, "today.zip"))).some((n) => n.startsWith("oldfix/")));
  assert.ok((await zipNames(join(zips, "frozen.zip"))).includes("oldfix/__init__.py"));

  // A python_version of another Python is refused where it is written.
  await writeFile(
    join(p.dir, "tug.yaml"),
    `python:\n  index_url: ${p.index.simpleUrl}\nlambdas:\n  today: { runtime: python3.11, handler: fn.py:handler, python_version: "3.12.1" }\n`,
  );
  assertOneError(await tug(p, ["build"]), /python_version "3\.12\.1" is not a release of python3\.11/);

  // A requirement a marker selected, with no wheel for the target: the error says which marker.
  await writeFile(
    join(p.dir, "tug.yaml"),
    `python:\n  index_url: ${p.index.simpleUrl}\nlambdas:\n  today: { runtime: python3.11, handler: mac.py:handler }\n`,
  );
  await writeFile(join(p.dir, "requirements.txt"), `maconly ; python_full_version >= '3.11.3'\n`);
  await writeFile(join(p.dir, "mac.py"), `import maconly\n\n\ndef handler(event, context):\n    return 1\n`);
  assertOneError(
    await tug(p, ["build"]),
    /requirements\.txt:1, selected by marker python_full_version >= '3\.11\.3'/,
  );
});

// ---------------------------------------------------------------- 7: upload: s3

test("over 50 MB zipped is refused for upload: direct (the hint names upload: direct | s3) and built with upload: s3", async (t) => {
  // Incompressible: random bytes stay ~60 MB zipped, under 250 MB unzipped.
  const blob = randomBytes(60 << 20);
  const p = await project(
    t,
    [{ ...pure("bigdata"), files: { "bigdata/blob.bin": blob } }],
    (url) => `python:
  index_url: ${url}
lambdas:
  big: { runtime: python3.11, handler: big.py:handler }
`,
    {
      "requirements.txt": "bigdata\n",
      "big.py": `import os

import bigdata


def handler(event, context):
    return {"size": os.path.getsize(os.path.join(os.path.dirname(bigdata.__file__), "blob.bin"))}
`,
    },
  );
  const direct = await tug(p, ["build"]);
  assertOneError(
    direct,
    /lambda big would be 6\d\.\d MB zipped \(Lambda allows 50\.0 MB for a direct upload\)/,
  );
  assert.match(direct.stderr, /upload: direct \| s3/);
  assert.deepEqual(await readdir(join(p.dir, ".tug", "out", "lambdas")).catch(() => []), []);

  const yaml = await readFile(join(p.dir, "tug.yaml"), "utf8");
  await writeFile(
    join(p.dir, "tug.yaml"),
    yaml.replace("handler: big.py:handler", "handler: big.py:handler, upload: s3"),
  );
  assert.deepEqual(await invoke(p, "big"), { size: 60 << 20 });
});

// ---------------------------------------------------------------- 9: source roots

test("source_roots: files under a root are zipped relative to it and the handler string follows; a collision names both files", async (t) => {
  const p = await project(
    t,
    [],
    (url) => `python:
  index_url: ${url}
  source_roots: [lambdas]
lambdas:
  logs: { runtime: python3.11, handler: lambdas/logs.py:handler }
`,
    {
      "lambdas/logs.py": `import fmt


def handler(event, context):
    return {"line": fmt.line("hello")}
`,
      "lambdas/fmt.py": `def line(s):\n    return "[" + s + "]"\n`,
    },
  );
  assert.deepEqual(await invoke(p, "logs"), { line: "[hello]" });
  const zip = join(p.dir, ".tug", "out", "lambdas", "logs.zip");
  assert.deepEqual((await zipNames(zip)).sort(), ["fmt.py", "logs.py"]);
  const meta = JSON.parse(await readFile(`${zip}.json`, "utf8")) as { handler: string };
  assert.equal(meta.handler, "logs.handler");

  // lambdas/util.py (via the project root, as lambdas.util) and util.py would both be util.py.
  await writeFiles(p.dir, {
    "lambdas/logs.py": `import lambdas.util\nimport util\n\n\ndef handler(event, context):\n    return 1\n`,
    "lambdas/__init__.py": "",
    "lambdas/util.py": "X = 1\n",
    "util.py": "X = 2\n",
  });
  assertOneError(
    await tug(p, ["build"]),
    /(lambdas\/util\.py and util\.py|util\.py and lambdas\/util\.py) would both be util\.py/,
  );
});

// ---------------------------------------------------------------- 10: syntax errors

test("a syntax error in first-party code is a build error with file:line; the verdict is cached per content", async (t) => {
  const p = await project(
    t,
    [],
    (url) => `python:
  index_url: ${url}
lambdas:
  fn: { runtime: python3.11, handler: fn.py:handler }
`,
    {
      "fn.py": `import helper\n\n\ndef handler(event, context):\n    return {"n": helper.n()}\n`,
      "helper.py": `def n():\n    return 1\n`,
    },
  );
  assert.deepEqual(await invoke(p, "fn"), { n: 1 });
  const zip = join(p.dir, ".tug", "out", "lambdas", "fn.zip");
  const before = await readFile(zip);

  await writeFile(join(p.dir, "helper.py"), `def n():\n    return (1\n\n\ndef m():\n    pass\n`);
  const broken = await tug(p, ["build"]);
  assertOneError(broken, /syntax error in helper\.py:2/);
  assert.match(broken.stderr, /where: helper\.py:2/);
  assert.deepEqual(await readFile(zip), before, "the previous zip is left as it was");

  // Grammar newer than the target's Python is refused too (a PEP 695 alias on python3.11).
  await writeFile(join(p.dir, "helper.py"), `type Num = int\n\n\ndef n():\n    return 2\n`);
  assertOneError(await tug(p, ["build"]), /syntax error in helper\.py:1/);

  await writeFile(join(p.dir, "helper.py"), `def n():\n    return 3\n`);
  assert.deepEqual(await invoke(p, "fn"), { n: 3 });
  // A rebuild of unchanged sources (the zip is gone) uses the cached verdicts: no python3 on PATH
  // is needed (without one, a check that ran would warn that nothing was compiled).
  await rm(zip);
  const noPython = await runTug(["build"], {
    cwd: p.dir,
    env: { ...p.env, PATH: await tempDir(t, "tug-empty-path-") },
  });
  assert.equal(noPython.code, 0, noPython.stderr);
  assert.doesNotMatch(noPython.stderr, /warning/);
  // Each judged content has its verdict: no interpreter is needed to judge them again.
  const records = await readdir(join(p.root, "cache"), { recursive: true });
  assert.ok(
    records.filter((r) => r.includes("python-syntax")).length >= 3,
    `verdict records: ${records.join(", ")}`,
  );
});

// ---------------------------------------------------------------- 5: index options in requirements files

test("--index-url / --extra-index-url in requirements.txt are honoured; an unknown option, --find-links and a conflicting index are one error with file:line", async (t) => {
  const p = await project(
    t,
    [pure("alpha")],
    () => `lambdas:\n  fn: { runtime: python3.11, handler: fn.py:handler }\n`,
    {
      "fn.py": `import alpha\nimport beta\n\n\ndef handler(event, context):\n    return {"v": [alpha.VERSION, beta.VERSION]}\n`,
    },
  );
  const second = await buildFixtureIndex(join(p.root, "second"), [pure("beta", "2.0")]);
  // The file's --index-url replaces the default (PyPI, PIP_INDEX_URL); the extra index is added.
  const env = { ...p.env, PIP_INDEX_URL: "http://127.0.0.1:9/simple/" };
  await writeFile(
    join(p.dir, "requirements.txt"),
    `--index-url ${second.simpleUrl}\n--extra-index-url ${p.index.simpleUrl}\n--trusted-host example.org\nalpha\nbeta\n`,
  );
  const run = (args: string[]) => runTug(args, { cwd: p.dir, env });
  const invoked = await run(["invoke", "fn", "--event", "{}"]);
  assert.equal(invoked.code, 0, invoked.stderr);
  assert.deepEqual(JSON.parse(invoked.stdout), { v: ["1.0", "2.0"] });

  await writeFile(join(p.dir, "requirements.txt"), `alpha\n--frobnicate yes\nbeta\n`);
  const unknown = await run(["build"]);
  assertOneError(unknown, /unknown option "--frobnicate"/);
  assert.match(unknown.stderr, /where: requirements\.txt:2/);

  await writeFile(join(p.dir, "requirements.txt"), `--find-links ./wheels\nalpha\n`);
  const links = await run(["build"]);
  assertOneError(links, /--find-links \.\/wheels is not supported/);
  assert.match(links.stderr, /where: requirements\.txt:1/);

  // tug.yaml names one index and the file another: tug cannot tell which is meant.
  await writeFile(join(p.dir, "requirements.txt"), `-i ${second.simpleUrl}\nalpha\nbeta\n`);
  await writeFile(
    join(p.dir, "tug.yaml"),
    `python:\n  index_url: ${p.index.simpleUrl}\nlambdas:\n  fn: { runtime: python3.11, handler: fn.py:handler }\n`,
  );
  const conflict = await run(["build"]);
  assertOneError(conflict, /requirements\.txt:1 names the index .*second.*, but tug is told to use/);
});

test("tug dev: a syntax error is a failed report naming file:line, and the previous zip stays", async (t) => {
  const p = await project(
    t,
    [],
    (url) =>
      `python:\n  index_url: ${url}\nlambdas:\n  fn: { runtime: python3.11, handler: fn.py:handler }\n`,
    {
      "fn.py": `def handler(event, context):\n    return 1\n`,
    },
  );
  const reports: UpdateReport[] = [];
  const loaded = await loadProject(join(p.dir, "tug.yaml"));
  const session = await devLambdas(loaded, loaded.lambdas ?? [], [], {
    cacheDir: join(p.root, "cache"),
    onReport: (r) => reports.push(r),
  });
  t.after(() => session.stop());
  await session.idle();
  assert.equal(reports[0]?.ok, true, reports[0]?.error);
  const zip = join(p.dir, ".tug", "out", "lambdas", "fn.zip");
  const before = await readFile(zip);
  await writeFile(join(p.dir, "fn.py"), `def handler(event, context):\n    return 1 +\n`);
  for (let i = 0; i < 600 && !reports.some((r) => r.action === "rebuild"); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await session.idle();
  const rebuilt = reports.find((r) => r.action === "rebuild");
  assert.ok(rebuilt, "a rebuild was reported");
  assert.equal(rebuilt.ok, false);
  assert.match(rebuilt.error ?? "", /syntax error in fn\.py:2/);
  assert.deepEqual(await readFile(zip), before, "the previous zip is kept");
});
