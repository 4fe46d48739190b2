// One engine per build: images and lambdas share its timings (so --timings, the progress view and
// --json list the lambda steps) and its one shared-cache session (one warning when the cache is
// down, one set of requests, none at all on a no-op build).
import assert from "node:assert/strict";
import { cp, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { buildFixtureIndex, serveFixtureIndex } from "../lambda/support/fixture-index.ts";
import { REPO_ROOT, runTug, runTugJson } from "../support/cli.ts";
import { startCountingProxy } from "../support/counting-proxy.ts";
import { startNginxDav } from "../support/nginx-dav.ts";
import { tempDir } from "../support/tmp.ts";

interface Report {
  artifacts: Array<{ target: string; kind: string; digest: string; cached: boolean }>;
  steps: Array<{ target: string; step: string; cached: boolean; ms: number }>;
}

/** A files image, a Python lambda that imports a wheel from `indexUrl`, and a Node lambda. */
async function mixedProject(t: TestContext, indexUrl: string): Promise<string> {
  const dir = await tempDir(t, "tug-mixed-");
  await mkdir(join(dir, "public"));
  await writeFile(join(dir, "public", "index.html"), "<h1>hi</h1>\n");
  await mkdir(join(dir, "fns"));
  await writeFile(
    join(dir, "fns", "fn.py"),
    "import fakea\n\n\ndef handler(event, context):\n    return 1\n",
  );
  await writeFile(join(dir, "requirements.txt"), "fakea\n");
  await cp(join(REPO_ROOT, "examples", "lambdas", "src"), join(dir, "src"), { recursive: true });
  await writeFile(
    join(dir, "tug.yaml"),
    `python:
  index_url: ${indexUrl}
images:
  site: { builder: files, context: ./public, dest: /srv/www, base: scratch }
lambdas:
  fn: { runtime: python3.12, handler: fns/fn.py:handler }
  api: { runtime: nodejs20.x, handler: src/api.ts:handler }
`,
  );
  return dir;
}

async function fixtureIndex(t: TestContext) {
  const root = await tempDir(t, "tug-mixed-index-");
  const index = await buildFixtureIndex(join(root, "index"), [
    { name: "fakea", version: "1.0", tag: "py3-none-any" },
  ]);
  return serveFixtureIndex(t, index.root);
}

const env = (cache: string, remote?: string): NodeJS.ProcessEnv => ({
  TUG_CACHE: cache,
  TUG_REMOTE_CACHE: remote,
  TUG_REMOTE_CACHE_TIMEOUT_MS: "2000",
  PIP_CONFIG_FILE: "/dev/null",
  TUG_INDEX_URL: "",
  TUG_REPO: undefined,
});

test("--timings and --json of a mixed images + lambdas build list the lambda steps with the image steps", async (t) => {
  const served = await fixtureIndex(t);
  const dir = await mixedProject(t, served.simpleUrl);
  const cache = await tempDir(t, "tug-mixed-cache-");
  const first = await runTug(["build", "--timings"], { cwd: dir, env: env(cache) });
  assert.equal(first.code, 0, first.stderr);
  for (const line of [
    /^site {2}files {2}built {2}\d/m,
    /^fn {2}zip {2}built {2}\d/m,
    /^python-index {2}page fakea {2}built {2}\d/m,
    /^python-index {2}wheel fakea-1\.0-py3-none-any\.whl {2}built {2}\d/m,
    /^api {2}bundle {2}built {2}\d/m,
    /^api {2}zip {2}built {2}\d/m,
  ]) {
    assert.match(first.stderr, line);
  }
  // Unchanged: every step is a hit, the index is not asked, and --json carries the same steps.
  served.log.length = 0;
  const again = await runTugJson<Report>(["build"], { cwd: dir, env: env(cache) });
  assert.deepEqual(served.log, []);
  const steps = new Map(again.steps.map((s) => [`${s.target} ${s.step}`, s.cached]));
  for (const name of ["site files", "fn zip", "api bundle", "api zip"]) {
    assert.equal(steps.get(name), true, `${name} in ${JSON.stringify(again.steps)}`);
  }
});

test("one shared-cache session per mixed build: one warning when it is down; no-op builds send nothing (nginx WebDAV)", async (t) => {
  const served = await fixtureIndex(t);
  // Down: images and the Python lambda both need the shared cache; one session says so once.
  const down = await mixedProject(t, served.simpleUrl);
  const r = await runTug(["build"], {
    cwd: down,
    env: env(await tempDir(t, "tug-mixed-cache-"), "http://127.0.0.1:9"),
  });
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.split("\n").filter((l) => l.includes("remote cache"));
  assert.equal(warnings.length, 1, `one warning, got:\n${r.stderr}`);

  // Up: a writer clone fills nginx through a counting proxy; a reader clone with an empty local
  // cache builds both kinds from it without asking the index.
  const dav = await startNginxDav(t);
  const proxy = await startCountingProxy(t, dav.url);
  const remote = `http://${proxy.host}/ci`;
  const writer = await mixedProject(t, served.simpleUrl);
  const written = await runTugJson<Report>(["build"], {
    cwd: writer,
    env: env(await tempDir(t, "tug-mixed-cache-"), remote),
  });
  const puts = proxy.requests().filter((q) => q.method === "PUT");
  assert.ok(
    puts.some((q) => q.path.startsWith("/ci/ac/")) && puts.some((q) => q.path.startsWith("/ci/cas/")),
  );

  const reader = await mixedProject(t, served.simpleUrl);
  const readerCache = await tempDir(t, "tug-mixed-cache-");
  served.log.length = 0;
  proxy.reset();
  const read = await runTugJson<Report>(["build"], { cwd: reader, env: env(readerCache, remote) });
  assert.deepEqual(served.log, [], "the lambda's lock and wheel came from the shared cache");
  const digests = (x: Report) => Object.fromEntries(x.artifacts.map((a) => [a.target, a.digest]));
  assert.deepEqual(digests(read), digests(written));
  assert.equal(read.artifacts.find((a) => a.target === "site")?.cached, true);
  const gets = proxy.requests().filter((q) => q.method === "GET");
  assert.ok(gets.length > 0);
  // One session: no record or blob is asked for twice in one build.
  const paths = gets.map((q) => q.path);
  assert.equal(new Set(paths).size, paths.length, JSON.stringify(paths));

  proxy.reset();
  const noop = await runTugJson<Report>(["build"], { cwd: reader, env: env(readerCache, remote) });
  assert.ok(noop.artifacts.every((a) => a.cached));
  assert.deepEqual(proxy.requests(), [], "a no-op mixed build never contacts the shared cache");
});
