// The talk's example, packaged per function from a local fixture index (no network, no pip):
// echo imports fakemsgspec and a shared logs.py that imports fakestructlog; plot imports
// fakematplotlib (which depends on fakenumpy). Each zip holds only what its handler imports.
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import test, { type TestContext } from "node:test";
import { buildFixtureIndex, serveFixtureIndex } from "../lambda/support/fixture-index.ts";
import { runTug, runTugJson } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";
import { readZipIndependently } from "../zip/tools.ts";

const TUG_YAML = (indexUrl: string) => `python:
  index_url: ${indexUrl}
  extra_index_urls: []
  requirements: requirements.txt
lambdas:
  echo: { runtime: python3.12, architecture: x86_64, handler: lambdas/echo.py:handler }
  plot: { runtime: python3.11, architecture: x86_64, handler: lambdas/plot.py:handler, glibc: "2.28" }
`;

const ECHO = `import json

import fakemsgspec
from logs import log


def handler(event, context):
    log("echo called")
    return {"echo": event, "msgspec": fakemsgspec.VERSION}
`;

const LOGS = `import fakestructlog


def log(message):
    print(f"[{fakestructlog.VERSION}] {message}")
`;

const PLOT = `import fakematplotlib


def handler(event, context):
    return {"plotted": fakematplotlib.VERSION}
`;

interface Project {
  dir: string;
  env: NodeJS.ProcessEnv;
}

async function talkProject(t: TestContext, yaml?: (url: string) => string): Promise<Project> {
  const root = await tempDir(t, "tug-lambda-");
  const index = await buildFixtureIndex(join(root, "index"), [
    { name: "fakemsgspec", version: "0.18.6", tag: "py3-none-any" },
    { name: "fakestructlog", version: "24.4.0", tag: "py3-none-any" },
    { name: "fakematplotlib", version: "3.9.2", tag: "py3-none-any", requiresDist: ["fakenumpy>=1.0"] },
    { name: "fakenumpy", version: "2.0.0", tag: "py3-none-any" },
    { name: "fakenumpy", version: "1.26.4", tag: "py3-none-any" },
  ]);
  const dir = join(root, "project");
  await mkdir(join(dir, "lambdas"), { recursive: true });
  await writeFile(join(dir, "tug.yaml"), (yaml ?? TUG_YAML)(index.simpleUrl));
  await writeFile(
    join(dir, "requirements.txt"),
    "fakemsgspec>=0.18\nfakestructlog\n-r plot-requirements.txt\n",
  );
  await writeFile(join(dir, "plot-requirements.txt"), "fakematplotlib==3.9.2\n");
  await writeFile(join(dir, "lambdas", "echo.py"), ECHO);
  await writeFile(join(dir, "lambdas", "plot.py"), PLOT);
  await writeFile(join(dir, "logs.py"), LOGS);
  const env = { TUG_CACHE: join(root, "cache"), PIP_CONFIG_FILE: "/dev/null", TUG_INDEX_URL: "" };
  return { dir, env };
}

interface LambdaArtifact {
  target: string;
  kind: string;
  path: string;
  digest: string;
  bytes: number;
  unpackedBytes: number;
  distributions: Array<{ name: string; version: string; wheel: string }>;
  cached: boolean;
  ms: number;
  reason?: string;
}

/** Entry names as CPython's zipfile lists them (after unzip -t and testzip pass). */
async function zipNames(path: string): Promise<string[]> {
  return [...(await readZipIndependently(path)).keys()];
}

test("each lambda's zip holds only the distributions its handler imports", async (t) => {
  const p = await talkProject(t);
  const built = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build"], { cwd: p.dir, env: p.env });
  const by = new Map(built.artifacts.map((a) => [a.target, a]));
  const echo = by.get("echo");
  const plot = by.get("plot");
  assert.ok(echo && plot, JSON.stringify(built));
  assert.equal(echo.kind, "lambda");
  assert.equal(echo.path, join(p.dir, ".tug", "out", "lambdas", "echo.zip"));
  assert.match(echo.digest, /^sha256:[0-9a-f]{64}$/);
  assert.ok(echo.bytes > 0 && echo.unpackedBytes > 0);
  assert.deepEqual(
    echo.distributions.map((d) => `${d.name}==${d.version}`),
    ["fakemsgspec==0.18.6", "fakestructlog==24.4.0"],
  );
  assert.deepEqual(
    plot.distributions.map((d) => `${d.name}==${d.version}`),
    ["fakematplotlib==3.9.2", "fakenumpy==2.0.0"],
  );

  const echoNames = await zipNames(echo.path);
  assert.ok(echoNames.includes("lambdas/echo.py"));
  assert.ok(echoNames.includes("logs.py"));
  assert.ok(echoNames.includes("fakemsgspec/__init__.py"));
  assert.ok(echoNames.includes("fakestructlog/__init__.py"));
  assert.ok(!echoNames.some((n) => n.startsWith("fakematplotlib") || n.startsWith("fakenumpy")));
  assert.ok(!echoNames.includes("lambdas/plot.py"));
  const plotNames = await zipNames(plot.path);
  assert.ok(plotNames.includes("fakematplotlib/__init__.py"));
  assert.ok(plotNames.includes("fakenumpy/__init__.py"));
  assert.ok(!plotNames.some((n) => n.startsWith("fakemsgspec") || n.startsWith("fakestructlog")));
  assert.ok(!plotNames.includes("logs.py"));

  const meta = JSON.parse(await readFile(`${echo.path}.json`, "utf8"));
  assert.deepEqual(meta, {
    runtime: "python3.12",
    architecture: "x86_64",
    handler: "lambdas/echo.handler",
    digest: echo.digest,
    distributions: echo.distributions,
    sbom: "echo.zip.spdx.json",
  });

  const invoked = await runTug(["invoke", "echo", "--event", '{"a":1}'], { cwd: p.dir, env: p.env });
  assert.equal(invoked.code, 0, invoked.stderr);
  assert.deepEqual(JSON.parse(invoked.stdout), { echo: { a: 1 }, msgspec: "0.18.6" });
  assert.match(invoked.stderr, /\[24\.4\.0\] echo called/);

  await writeFile(join(p.dir, "event.json"), '{"b": 2}');
  const plotted = await runTug(["invoke", "plot", "--event", "@event.json"], { cwd: p.dir, env: p.env });
  assert.equal(plotted.code, 0, plotted.stderr);
  assert.deepEqual(JSON.parse(plotted.stdout), { plotted: "3.9.2" });

  const again = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build"], { cwd: p.dir, env: p.env });
  assert.deepEqual(
    again.artifacts.map((a) => [a.target, a.digest]),
    built.artifacts.map((a) => [a.target, a.digest]),
  );

  const one = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build", "plot"], {
    cwd: p.dir,
    env: p.env,
  });
  assert.deepEqual(
    one.artifacts.map((a) => a.target),
    ["plot"],
  );
});

test("invoke builds a missing zip first", async (t) => {
  const p = await talkProject(t);
  const invoked = await runTug(["invoke", "echo", "--event", '{"a":1}'], { cwd: p.dir, env: p.env });
  assert.equal(invoked.code, 0, invoked.stderr);
  assert.deepEqual(JSON.parse(invoked.stdout), { echo: { a: 1 }, msgspec: "0.18.6" });
});

async function assertNothingWritten(dir: string): Promise<void> {
  const out = await readdir(join(dir, ".tug", "out", "lambdas")).catch(() => []);
  assert.deepEqual(out, []);
}

test("an unknown runtime is one clear error and writes nothing", async (t) => {
  const p = await talkProject(t, (url) =>
    TUG_YAML(url).replace("runtime: python3.12", "runtime: python3.99"),
  );
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.match(/^error:/gm)?.length, 1, r.stderr);
  assert.match(r.stderr, /unknown Python Lambda runtime "python3\.99"/);
  assert.match(r.stderr, /lambdas\.echo \(.*tug\.yaml:6\)/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  await assertNothingWritten(p.dir);
});

test("a missing handler function is one clear error and writes nothing", async (t) => {
  const p = await talkProject(t, (url) =>
    TUG_YAML(url).replace("lambdas/echo.py:handler", "lambdas/echo.py:hadnler"),
  );
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.match(/^error:/gm)?.length, 1, r.stderr);
  assert.match(r.stderr, /handler function hadnler is not defined in lambdas\/echo\.py/);
  assert.match(r.stderr, /top-level functions there: handler/);
  await assertNothingWritten(p.dir);
});

test("a Node.js runtime with a .py handler is one clear error", async (t) => {
  const p = await talkProject(t, (url) =>
    TUG_YAML(url).replace("runtime: python3.12", "runtime: nodejs20.x"),
  );
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /handler file lambdas\/echo\.py is not a JavaScript or TypeScript file/);
  await assertNothingWritten(p.dir);
});

/** Every file under `dir` with its size and mtime, to show that a build wrote nothing. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    const s = await stat(path, { bigint: true });
    out.set(path, `${s.size}:${s.mtimeNs}:${s.ino}`);
  }
  return out;
}

test("a rebuild with nothing changed makes no index request and writes nothing; an edit makes none either", async (t) => {
  const p = await talkProject(t);
  const served = await serveFixtureIndex(t, join(dirname(p.dir), "index"));
  const yaml = await readFile(join(p.dir, "tug.yaml"), "utf8");
  await writeFile(join(p.dir, "tug.yaml"), yaml.replace(/index_url: .*/, `index_url: ${served.simpleUrl}`));

  const first = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build"], { cwd: p.dir, env: p.env });
  assert.ok(served.log.length > 0, "the first build reads the index");
  assert.deepEqual(
    first.artifacts.map((a) => [a.target, a.cached]),
    [
      ["echo", false],
      ["plot", false],
    ],
  );
  served.log.length = 0;
  const cache = p.env.TUG_CACHE as string;
  const before = new Map([...(await snapshot(cache)), ...(await snapshot(join(p.dir, ".tug")))]);

  const again = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build"], { cwd: p.dir, env: p.env });
  assert.deepEqual(served.log, [], "no index request");
  assert.deepEqual(
    again.artifacts.map((a) => [a.target, a.cached, a.digest]),
    first.artifacts.map((a) => [a.target, true, a.digest]),
  );
  const after = new Map([...(await snapshot(cache)), ...(await snapshot(join(p.dir, ".tug")))]);
  assert.deepEqual(after, before, "nothing written, in the outputs or the cache");

  // An edit to the handler rebuilds that zip from the lock and the cached wheels: still no request.
  await writeFile(join(p.dir, "lambdas", "plot.py"), `${PLOT}\n# edited\n`);
  const edited = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build"], { cwd: p.dir, env: p.env });
  assert.deepEqual(served.log, [], "an edit makes no index request");
  const byName = new Map(edited.artifacts.map((a) => [a.target, a]));
  assert.equal(byName.get("echo")?.cached, true);
  assert.equal(byName.get("plot")?.cached, false);
  assert.equal(byName.get("plot")?.reason, "lambdas/plot.py changed", "why it was rebuilt");
  assert.notEqual(byName.get("plot")?.digest, first.artifacts[1]?.digest);
  const names = await zipNames(join(p.dir, ".tug", "out", "lambdas", "plot.zip"));
  assert.equal(names.at(-1), "lambdas/plot.py", "first-party sources come last");

  // A fresh cache gives the same bytes as the incremental build.
  const fresh = await runTugJson<{ artifacts: LambdaArtifact[] }>(
    ["build", "plot", "--out", join(p.dir, "fresh")],
    {
      cwd: p.dir,
      env: { ...p.env, TUG_CACHE: join(dirname(p.dir), "cache2") },
    },
  );
  assert.equal(fresh.artifacts[0]?.digest, byName.get("plot")?.digest);

  // A new first-party module where an import used to resolve to nothing changes the closure.
  await writeFile(join(p.dir, "fakematplotlib.py"), "VERSION = 'local'\n");
  const shadowed = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build", "plot"], {
    cwd: p.dir,
    env: p.env,
  });
  assert.equal(shadowed.artifacts[0]?.cached, false);
  assert.equal(shadowed.artifacts[0]?.reason, "fakematplotlib.py: new");
  assert.ok(
    (await zipNames(join(p.dir, ".tug", "out", "lambdas", "plot.zip"))).includes("fakematplotlib.py"),
  );
});

test("a layer packages its distributions under python/, and a function using it leaves them out", async (t) => {
  const p = await talkProject(
    t,
    (url) => `python:
  index_url: ${url}
layers:
  plotting:
    runtime: python3.11
    architecture: x86_64
    glibc: "2.28"
    requirements: ["fakematplotlib==3.9.2"]
lambdas:
  plot: { runtime: python3.11, architecture: x86_64, handler: lambdas/plot.py:handler, glibc: "2.28", layers: [plotting] }
  echo: { runtime: python3.12, handler: lambdas/echo.py:handler }
`,
  );
  const built = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build"], { cwd: p.dir, env: p.env });
  const by = new Map(built.artifacts.map((a) => [a.target, a]));
  const layer = by.get("plotting");
  const plot = by.get("plot");
  assert.ok(layer && plot, JSON.stringify(built));
  assert.equal(layer.kind, "layer");
  assert.equal(layer.path, join(p.dir, ".tug", "out", "layers", "plotting.zip"));
  assert.deepEqual(
    layer.distributions.map((d) => d.name),
    ["fakematplotlib", "fakenumpy"],
  );
  const layerNames = await zipNames(layer.path);
  assert.ok(layerNames.includes("python/fakematplotlib/__init__.py"));
  assert.ok(layerNames.includes("python/fakenumpy/__init__.py"));
  assert.ok(layerNames.every((n) => n.startsWith("python/")));

  assert.deepEqual(plot.distributions, []);
  const plotNames = await zipNames(plot.path);
  assert.deepEqual(plotNames, ["lambdas/plot.py"]);
  const meta = JSON.parse(await readFile(`${plot.path}.json`, "utf8"));
  assert.deepEqual(meta.layers, ["plotting"]);

  // invoke puts the layer where Lambda does (/opt/python on the path).
  const invoked = await runTug(["invoke", "plot", "--event", "{}"], { cwd: p.dir, env: p.env });
  assert.equal(invoked.code, 0, invoked.stderr);
  assert.deepEqual(JSON.parse(invoked.stdout), { plotted: "3.9.2" });

  // A layer for another Python is refused where the function names it.
  const yaml = await readFile(join(p.dir, "tug.yaml"), "utf8");
  await writeFile(join(p.dir, "tug.yaml"), yaml.replace("layers: [plotting]", "layers: [plotting, nope]"));
  const missing = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /lambda plot uses layer nope, which tug.yaml does not define/);
  await writeFile(
    join(p.dir, "tug.yaml"),
    yaml.replace("runtime: python3.11\n    architecture", "runtime: python3.12\n    architecture"),
  );
  const mismatch = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(mismatch.code, 0);
  assert.match(
    mismatch.stderr,
    /layer plotting is built for python3\.12\/x86_64, but lambda plot runs python3\.11\/x86_64/,
  );
});

test("zero-config: tug build FILE:FUNCTION --runtime --architecture, and tug invoke FILE:FUNCTION", async (t) => {
  const p = await talkProject(t);
  const yaml = await readFile(join(p.dir, "tug.yaml"), "utf8");
  const indexUrl = /index_url: (.*)/.exec(yaml)?.[1] as string;
  await rm(join(p.dir, "tug.yaml"));
  const env = { ...p.env, TUG_INDEX_URL: indexUrl };
  const built = await runTugJson<{ artifacts: LambdaArtifact[] }>(
    ["build", "lambdas/echo.py:handler", "--runtime", "python3.12", "--architecture", "arm64"],
    { cwd: p.dir, env },
  );
  assert.equal(built.artifacts.length, 1);
  const echo = built.artifacts[0] as LambdaArtifact;
  assert.equal(echo.target, "echo");
  assert.equal(echo.path, join(p.dir, ".tug", "out", "lambdas", "echo.zip"));
  assert.deepEqual(
    echo.distributions.map((d) => d.name),
    ["fakemsgspec", "fakestructlog"],
  );
  const meta = JSON.parse(await readFile(`${echo.path}.json`, "utf8"));
  assert.equal(meta.runtime, "python3.12");
  assert.equal(meta.architecture, "arm64");
  assert.equal(meta.handler, "lambdas/echo.handler");

  const invoked = await runTug(
    ["invoke", "lambdas/echo.py:handler", "--runtime", "python3.12", "--event", '{"z":1}'],
    {
      cwd: p.dir,
      env,
    },
  );
  assert.equal(invoked.code, 0, invoked.stderr);
  assert.deepEqual(JSON.parse(invoked.stdout).echo, { z: 1 });

  // --index-url wins over TUG_INDEX_URL (and python.index_url).
  const viaFlag = await runTugJson<{ artifacts: LambdaArtifact[] }>(
    [
      "build",
      "lambdas/plot.py:handler",
      "--runtime",
      "python3.11",
      "--glibc",
      "2.28",
      "--index-url",
      indexUrl,
    ],
    { cwd: p.dir, env: { ...env, TUG_INDEX_URL: "file:///nonexistent/simple" } },
  );
  assert.deepEqual(
    viaFlag.artifacts[0]?.distributions.map((d) => d.name),
    ["fakematplotlib", "fakenumpy"],
  );

  const bad = await runTug(["build", "lambdas/echo.py:handler", "--runtime", "python2.7"], {
    cwd: p.dir,
    env,
  });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /python2\.7/);
  assert.match(bad.stderr, /command line/);
});

test("an import whose distribution has another name is found from the wheels; one nothing provides warns", async (t) => {
  const root = await tempDir(t, "tug-lambda-map-");
  const index = await buildFixtureIndex(join(root, "index"), [
    // Installs `fakejose`, which its project name does not give away (like python-jose → jose).
    {
      name: "python-fakejose",
      version: "3.3.0",
      tag: "py3-none-any",
      files: { "fakejose/__init__.py": Buffer.from("NAME = 'jose'\n") },
    },
    { name: "unrelated", version: "1.0", tag: "py3-none-any" },
  ]);
  const dir = join(root, "project");
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, "tug.yaml"),
    `python:\n  index_url: ${index.simpleUrl}\nlambdas:\n  fn: { runtime: python3.12, handler: fn.py:handler }\n`,
  );
  await writeFile(join(dir, "requirements.txt"), "python-fakejose\nunrelated\n");
  await writeFile(
    join(dir, "fn.py"),
    "import fakejose\nimport notinstalled\n\n\ndef handler(event, context):\n    return fakejose.NAME\n",
  );
  const env = { TUG_CACHE: join(root, "cache"), PIP_CONFIG_FILE: "/dev/null", TUG_INDEX_URL: "" };
  const built = await runTug(["build", "--json"], { cwd: dir, env });
  assert.equal(built.code, 0, built.stderr);
  const artifacts = JSON.parse(built.stdout).artifacts as LambdaArtifact[];
  assert.deepEqual(
    artifacts[0]?.distributions.map((d) => d.name),
    ["python-fakejose"],
  );
  assert.match(built.stderr, /fn\.py:2: import notinstalled is not provided by any requirement/);
  assert.doesNotMatch(built.stderr, /import fakejose/);

  await writeFile(
    join(dir, "tug.yaml"),
    `${await readFile(join(dir, "tug.yaml"), "utf8")}`.replace(
      "python:\n",
      "python:\n  unknown_imports: error\n",
    ),
  );
  const strict = await runTug(["build"], { cwd: dir, env });
  assert.notEqual(strict.code, 0);
  assert.match(strict.stderr, /no requirement provides notinstalled/);
});

test("review fixes: a zip edited in place is rebuilt; warnings repeat on cached builds; an unreachable index is not recorded as an answer", async (t) => {
  const p = await talkProject(t);
  const first = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build", "echo"], {
    cwd: p.dir,
    env: p.env,
  });
  const zip = join(p.dir, ".tug", "out", "lambdas", "echo.zip");
  // Change one byte and put the mtime back (touch -r, rsync -t): ctime still tells.
  const { open: openFile, utimes } = await import("node:fs/promises");
  const before = await stat(zip);
  const fh = await openFile(zip, "r+");
  await fh.write(Buffer.from([0xff]), 0, 1, 40);
  await fh.close();
  await utimes(zip, before.atime, before.mtime);
  const again = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build", "echo"], {
    cwd: p.dir,
    env: p.env,
  });
  assert.equal(again.artifacts[0]?.cached, false);
  assert.equal(again.artifacts[0]?.digest, first.artifacts[0]?.digest);

  // An import nothing provides warns on the build that found it and on every cached one after.
  await writeFile(join(p.dir, "lambdas", "echo.py"), `import nosuchthing\n${ECHO}`);
  const warned = await runTug(["build", "echo"], { cwd: p.dir, env: p.env });
  assert.match(warned.stderr, /lambdas\/echo\.py:1: import nosuchthing is not provided/);
  const cached = await runTug(["build", "echo", "--json"], { cwd: p.dir, env: p.env });
  assert.equal(JSON.parse(cached.stdout).artifacts[0].cached, true);
  assert.match(cached.stderr, /import nosuchthing is not provided/);

  // With the index unreachable, whether a requirement provides the import cannot be checked:
  // the zip is written with a warning, and the next build checks again instead of trusting it.
  const yaml = await readFile(join(p.dir, "tug.yaml"), "utf8");
  await writeFile(
    join(p.dir, "tug.yaml"),
    yaml.replace(/index_url: .*/, "index_url: http://127.0.0.1:1/simple"),
  );
  await writeFile(
    join(p.dir, "lambdas", "solo.py"),
    "import zap\n\n\ndef handler(event, context):\n    return 1\n",
  );
  await writeFile(
    join(p.dir, "tug.yaml"),
    `${(await readFile(join(p.dir, "tug.yaml"), "utf8")).trimEnd()}\n  solo: { runtime: python3.12, handler: lambdas/solo.py:handler }\n`,
  );
  const down = await runTug(["build", "solo", "--json"], { cwd: p.dir, env: p.env });
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stderr, /could not check whether/);
  const downAgain = await runTug(["build", "solo", "--json"], { cwd: p.dir, env: p.env });
  assert.equal(JSON.parse(downAgain.stdout).artifacts[0].cached, false, "not recorded as current");
});

test("kill -9 while a lambda zip is written, then rebuild: no temp left, same bytes as a clean build", async (t) => {
  const root = await tempDir(t, "tug-lambda-kill-");
  // A wheel with 48 MB that deflate cannot shrink: the zip write is still running at the kill.
  const { randomBytes } = await import("node:crypto");
  const index = await buildFixtureIndex(join(root, "index"), [
    {
      name: "bigdata",
      version: "1.0",
      tag: "py3-none-any",
      files: Object.fromEntries([0, 1, 2].map((i) => [`bigdata/blob${i}.bin`, randomBytes(16 << 20)])),
    },
  ]);
  const dir = join(root, "project");
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, "tug.yaml"),
    `python:\n  index_url: ${index.simpleUrl}\nlambdas:\n  fn: { runtime: python3.12, handler: fn.py:handler }\n`,
  );
  await writeFile(join(dir, "requirements.txt"), "bigdata\n");
  await writeFile(join(dir, "fn.py"), "import bigdata\n\n\ndef handler(event, context):\n    return 1\n");
  const env = { TUG_CACHE: join(root, "cache"), PIP_CONFIG_FILE: "/dev/null", TUG_INDEX_URL: "" };
  const out = join(dir, ".tug", "out", "lambdas");
  const killed = await runTug(["build"], {
    cwd: dir,
    env,
    onSpawn: (child) => {
      const poll = setInterval(async () => {
        // Kill once a temp file of the zip holds a few MB.
        const names = await readdir(out).catch(() => [] as string[]);
        const sizes = await Promise.all(
          names
            .filter((n) => n.endsWith(".tmp"))
            .map((n) =>
              stat(join(out, n)).then(
                (s) => s.size,
                () => 0,
              ),
            ),
        );
        if (sizes.some((s) => s > 4 << 20) && child.exitCode === null) child.kill("SIGKILL");
      }, 2);
      child.once("exit", () => clearInterval(poll));
    },
  });
  assert.equal(killed.signal, "SIGKILL", `the build finished before it could be killed:\n${killed.stderr}`);
  assert.ok(
    (await readdir(out)).some((n) => n.endsWith(".tmp")),
    "the killed build left a temp file",
  );

  const rebuilt = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build"], { cwd: dir, env });
  assert.equal(rebuilt.artifacts[0]?.cached, false);
  assert.deepEqual(
    (await readdir(out)).sort(),
    ["fn.zip", "fn.zip.json", "fn.zip.spdx.json"],
    "the dead writer's temp files are gone",
  );
  const clean = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build", "--out", join(root, "clean")], {
    cwd: dir,
    env: { ...env, TUG_CACHE: join(root, "cache2") },
  });
  assert.equal(rebuilt.artifacts[0]?.digest, clean.artifacts[0]?.digest);
});

test("wheels are blobs of the cache: tug cache verify checks them, prune frees them, the next build fetches them again", async (t) => {
  const p = await talkProject(t);
  const first = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build", "echo"], {
    cwd: p.dir,
    env: p.env,
  });
  const cache = p.env.TUG_CACHE as string;
  const { createHash } = await import("node:crypto");
  const wheelFile = join(dirname(p.dir), "index", "files", first.artifacts[0]?.distributions[0]?.wheel ?? "");
  const sha = createHash("sha256")
    .update(await readFile(wheelFile))
    .digest("hex");
  assert.ok((await stat(join(cache, "blobs", "sha256", sha))).isFile(), "the wheel is a CAS blob");

  const verified = await runTug(["cache", "verify"], { cwd: p.dir, env: p.env });
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, /checked [1-9]\d* blobs .*; 0 dropped/);

  // Everything is "recently used" for 10 minutes; age the blobs so prune may take them.
  const { utimes } = await import("node:fs/promises");
  const old = new Date(Date.now() - 3600_000);
  for (const name of await readdir(join(cache, "blobs", "sha256"))) {
    await utimes(join(cache, "blobs", "sha256", name), old, old);
  }
  const pruned = await runTug(["cache", "prune", "--max-size", "1K"], { cwd: p.dir, env: p.env });
  assert.equal(pruned.code, 0, pruned.stderr);
  await assert.rejects(stat(join(cache, "blobs", "sha256", sha)));
  // Without its zip (an edit would reuse the zip's wheel part and need no wheel at all).
  await rm(join(p.dir, ".tug", "out", "lambdas"), { recursive: true });
  const again = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build", "echo"], {
    cwd: p.dir,
    env: p.env,
  });
  assert.equal(again.artifacts[0]?.cached, false);
  assert.ok((await stat(join(cache, "blobs", "sha256", sha))).isFile(), "fetched again from the index");
});

test("tug explain says why a lambda would be rebuilt, and why it last was", async (t) => {
  const p = await talkProject(t);
  const never = await runTug(["explain", "plot"], { cwd: p.dir, env: p.env });
  assert.equal(never.code, 0, never.stderr);
  assert.match(never.stdout, /plot {2}zip: would be rebuilt\n {2}- no earlier build with these settings/);
  await runTugJson(["build", "plot"], { cwd: p.dir, env: p.env });
  const fresh = await runTug(["explain", "plot", "--json"], { cwd: p.dir, env: p.env });
  assert.equal(JSON.parse(fresh.stdout).steps[0].status, "up-to-date");
  await writeFile(join(p.dir, "lambdas", "plot.py"), `${PLOT}\n# edited\n`);
  const stale = await runTug(["explain", "plot"], { cwd: p.dir, env: p.env });
  assert.match(stale.stdout, /would be rebuilt\n {2}- lambdas\/plot\.py changed/);
  await runTugJson(["build", "plot"], { cwd: p.dir, env: p.env });
  const after = await runTug(["explain", "plot"], { cwd: p.dir, env: p.env });
  assert.match(
    after.stdout,
    /up to date \(cache hit\)\n {2}last rebuilt because:\n {2}- lambdas\/plot\.py changed/,
  );
});

test("a lock whose wheel left the index (and the cache) is resolved again, once, and replaced", async (t) => {
  const p = await talkProject(t);
  const first = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build", "plot"], {
    cwd: p.dir,
    env: p.env,
  });
  assert.ok(first.artifacts[0]?.distributions.some((d) => d.name === "fakenumpy" && d.version === "2.0.0"));
  // The index drops fakenumpy 2.0.0, and this machine's cache no longer has its wheel.
  const indexRoot = join(dirname(p.dir), "index");
  const gone = join(indexRoot, "files", "fakenumpy-2.0.0-py3-none-any.whl");
  const { createHash } = await import("node:crypto");
  const sha = createHash("sha256")
    .update(await readFile(gone))
    .digest("hex");
  await buildFixtureIndex(indexRoot, [{ name: "fakenumpy", version: "1.26.4", tag: "py3-none-any" }]);
  await rm(gone);
  await rm(join(p.env.TUG_CACHE as string, "blobs", "sha256", sha));

  // Without the zip: an edit alone would reuse its wheel part, which needs neither lock nor wheel.
  await rm(join(p.dir, ".tug", "out", "lambdas"), { recursive: true });
  const again = await runTugJson<{ artifacts: LambdaArtifact[] }>(["build", "plot"], {
    cwd: p.dir,
    env: p.env,
  });
  assert.deepEqual(
    again.artifacts[0]?.distributions.map((d) => `${d.name}==${d.version}`),
    ["fakematplotlib==3.9.2", "fakenumpy==1.26.4"],
  );
});
