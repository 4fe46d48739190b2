// tug dev for lambdas, through the library API: zips are rebuilt on change, in one process, and
// each rebuild is reported with its change→zip latency; a bad edit is reported and keeps the zip.
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import test from "node:test";
import { loadProject } from "../../src/config/load.ts";
import { devLambdas } from "../../src/dev/lambda-dev.ts";
import type { UpdateReport } from "../../src/dev/report.ts";
import { buildLambdas } from "../../src/lambda/build-lambdas.ts";
import { buildFixtureIndex } from "../lambda/support/fixture-index.ts";
import { until } from "../support/http.ts";
import { tempDir } from "../support/tmp.ts";
import { readZipIndependently } from "../zip/tools.ts";

test("tug dev rebuilds only the edited lambda's zip, with the bytes of a fresh build", async (t) => {
  const root = await tempDir(t, "tug-lambda-dev-");
  const index = await buildFixtureIndex(join(root, "index"), [
    { name: "fakeb", version: "1.0", tag: "py3-none-any" },
    { name: "fakea", version: "2.0", tag: "py3-none-any", requiresDist: ["fakeb"] },
  ]);
  const dir = join(root, "project");
  await mkdir(join(dir, "fns"), { recursive: true });
  await writeFile(
    join(dir, "tug.yaml"),
    `python:\n  index_url: ${index.simpleUrl}\nlambdas:\n  a: { runtime: python3.12, handler: fns/a.py:handler }\n  b: { runtime: python3.12, handler: fns/b.py:handler }\n`,
  );
  await writeFile(join(dir, "requirements.txt"), "fakea\n");
  await writeFile(join(dir, "fns", "a.py"), "import fakea\n\n\ndef handler(event, context):\n    return 1\n");
  await writeFile(join(dir, "fns", "b.py"), "def handler(event, context):\n    return 'b'\n");
  const project = await loadProject(join(dir, "tug.yaml"));
  const cacheDir = join(root, "cache");
  const reports: UpdateReport[] = [];
  const session = await devLambdas(project, project.lambdas ?? [], [], {
    cacheDir,
    onReport: (r) => reports.push(r),
    debounceMs: 20,
  });
  t.after(() => session.stop());
  assert.deepEqual(
    reports.map((r) => [r.target, r.action, r.ok]),
    [
      ["a", "start", true],
      ["b", "start", true],
    ],
  );

  await writeFile(join(dir, "fns", "a.py"), "import fakea\n\n\ndef handler(event, context):\n    return 2\n");
  await until("report 3", () => reports.length >= 3);
  await session.idle();
  const rebuilt = reports.slice(2);
  assert.deepEqual(
    rebuilt.map((r) => [r.target, r.action, r.ok, r.files]),
    [["a", "rebuild", true, ["fns/a.py"]]],
    "only the edited lambda is rebuilt",
  );
  assert.ok((rebuilt[0]?.ms ?? -1) >= 0);
  const zip = join(dir, ".tug", "out", "lambdas", "a.zip");
  const entry = (await readZipIndependently(zip)).get("fns/a.py");
  assert.ok(entry);
  assert.match(entry.toString(), /return 2/);

  // A second edit goes through the kept head hash; the bytes still equal a fresh build's.
  await writeFile(join(dir, "fns", "a.py"), "import fakea\n\n\ndef handler(event, context):\n    return 3\n");
  await until("report 4", () => reports.length >= 4);
  await session.idle();
  const fresh = await buildLambdas(project, [(project.lambdas ?? [])[0]!], {
    cacheDir: join(root, "cache2"),
    out: join(root, "fresh"),
  });
  const kept = JSON.parse(await readFile(`${zip}.json`, "utf8")).digest;
  assert.equal(kept, fresh[0]?.digest);

  // A broken edit is reported and leaves the last good zip in place.
  await writeFile(
    join(dir, "fns", "a.py"),
    "import fakea\n\n\ndef nothandler(event, context):\n    return 4\n",
  );
  await until("report 5", () => reports.length >= 5);
  await session.idle();
  const failed = reports[4];
  assert.equal(failed?.ok, false);
  assert.match(failed?.error ?? "", /handler function handler is not defined in fns\/a\.py/);
  assert.equal(JSON.parse(await readFile(`${zip}.json`, "utf8")).digest, kept);
});

test("tug dev rebuilds a lambda when a data file of its package changes, and not for a file outside its packages", async (t) => {
  const root = await tempDir(t, "tug-lambda-dev-data-");
  const index = await buildFixtureIndex(join(root, "index"), [
    { name: "fakeb", version: "1.0", tag: "py3-none-any" },
  ]);
  const dir = join(root, "project");
  await mkdir(join(dir, "app", "data"), { recursive: true });
  await writeFile(
    join(dir, "tug.yaml"),
    `python:\n  index_url: ${index.simpleUrl}\nlambdas:\n  fn: { runtime: python3.12, handler: app/fn.py:handler }\n`,
  );
  await writeFile(join(dir, "app", "__init__.py"), "");
  await writeFile(join(dir, "app", "fn.py"), "def handler(event, context):\n    return 1\n");
  await writeFile(join(dir, "app", "data", "config.json"), '{"v": 1}\n');
  await writeFile(join(dir, "notes.txt"), "one\n");
  const project = await loadProject(join(dir, "tug.yaml"));
  const reports: UpdateReport[] = [];
  const session = await devLambdas(project, project.lambdas ?? [], [], {
    cacheDir: join(root, "cache"),
    onReport: (r) => reports.push(r),
    debounceMs: 20,
  });
  t.after(() => session.stop());
  assert.deepEqual(
    reports.map((r) => [r.target, r.action, r.ok]),
    [["fn", "start", true]],
  );
  const zip = join(dir, ".tug", "out", "lambdas", "fn.zip");
  assert.equal((await readZipIndependently(zip)).get("app/data/config.json")?.toString(), '{"v": 1}\n');

  // Whether the two edits land in one batch or two, only the data file's makes a rebuild report
  // (a batch of only notes.txt finds the zip current; e2e/lambda-first-party checks that alone).
  await writeFile(join(dir, "notes.txt"), "two\n");
  await writeFile(join(dir, "app", "data", "config.json"), '{"v": 2}\n');
  await until("report 2", () => reports.length >= 2);
  await session.idle();
  assert.deepEqual(
    reports.slice(1).map((r) => [r.target, r.action, r.ok]),
    [["fn", "rebuild", true]],
  );
  assert.equal((await readZipIndependently(zip)).get("app/data/config.json")?.toString(), '{"v": 2}\n');
});
