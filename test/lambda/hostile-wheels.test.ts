// Rule 4 of issue 9: a wheel's entries are verified once, when it enters the cache. Wheels are
// written by Python's zipfile and tampered with at the byte level, served from a file:// index,
// and built with the real CLI: each lie ends the build with one error naming wheel and entry,
// and nothing is written. An honest wheel's verdict is cached: a rebuild never reads it again.
import assert from "node:assert/strict";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { runTug } from "../support/cli.ts";
import {
  getField,
  overlappingZip,
  pythonZip,
  renameLocal,
  setField,
  singleWheelIndex,
  type WheelIndex,
} from "../support/hostile-wheels.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";

const MODULE = {
  "evil/__init__.py": "from .data import TABLE\nVERSION = '1.0'\n",
  "evil/data.py": `TABLE = [\n${"    'row',\n".repeat(2000)}]\n`,
};
const APP = "import evil\n\n\ndef handler(event, context):\n    return {'version': evil.VERSION}\n";

interface Project {
  root: string;
  dir: string;
  cache: string;
  index: WheelIndex;
  env: NodeJS.ProcessEnv;
}

async function project(
  t: TestContext,
  write: (wheelPath: string, files: Record<string, string>) => Promise<void>,
): Promise<Project> {
  const root = await tempDir(t, "tug-hostile-wheel-");
  const index = await singleWheelIndex(join(root, "index"), "evil", "1.0", write, MODULE);
  const dir = join(root, "project");
  const cache = join(root, "cache");
  await runTool("mkdir", ["-p", dir]);
  await writeFile(
    join(dir, "tug.yaml"),
    `python:\n  index_url: ${index.simpleUrl}\n  extra_index_urls: []\n  requirements: requirements.txt\nlambdas:\n  fn: { runtime: python3.12, architecture: x86_64, handler: app.py:handler }\n`,
  );
  await writeFile(join(dir, "requirements.txt"), "evil==1.0\n");
  await writeFile(join(dir, "app.py"), APP);
  const env = { TUG_CACHE: cache, PIP_CONFIG_FILE: "/dev/null", TUG_INDEX_URL: "" };
  return { root, dir, cache, index, env };
}

/** A wheel written by zipfile, then edited in place by `tamper`. */
const tamperedWith =
  (tamper: (zip: Buffer) => void) =>
  async (path: string, files: Record<string, string>): Promise<void> => {
    await pythonZip(path, files);
    const zip = await readFile(path);
    tamper(zip);
    await writeFile(path, zip);
  };

const files = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true }).catch(() => [] as string[])).map(String).sort();

/** The build fails with exactly one error, naming the wheel and the entry; nothing is written. */
async function assertRefused(p: Project, entry: string, why: RegExp): Promise<void> {
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(r.code, 0, r.stdout);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
  assert.equal(errors.length, 1, r.stderr);
  const line = errors[0] as string;
  assert.ok(line.includes(p.index.filename), line);
  assert.ok(line.includes(`entry ${entry}`), line);
  assert.match(line, why);
  assert.deepEqual(await files(join(p.dir, ".tug", "out")), [], "no output was written");
  // Outside the cache and .tug nothing changed: the project holds what the test wrote.
  assert.deepEqual((await readdir(p.dir)).filter((n) => n !== ".tug").sort(), [
    "app.py",
    "requirements.txt",
    "tug.yaml",
  ]);
  assert.deepEqual((await readdir(p.root)).sort(), ["cache", "index", "project"]);
  // No verdict was recorded for the lying wheel.
  assert.deepEqual(await files(join(p.cache, "ac", "wheel-table")), []);
}

const lies: Array<[string, string, (zip: Buffer) => void, RegExp]> = [
  [
    "a wrong CRC in the central directory and the local header",
    "evil/data.py",
    (z) => setField(z, "evil/data.py", "crc32", getField(z, "evil/data.py", "crc32") ^ 0x10),
    /has CRC-32 [0-9a-f]{8} but declares/,
  ],
  [
    "a wrong CRC in the central directory only",
    "evil/data.py",
    (z) => setField(z, "evil/data.py", "crc32", 0xdeadbeef, "central"),
    /in its local header but 3735928559 in the central directory/,
  ],
  [
    "a declared size smaller than the real data (a bomb that lies)",
    "evil/data.py",
    (z) => setField(z, "evil/data.py", "uncompressedSize", 100),
    /inflates to more than its declared size/,
  ],
  [
    "a declared size larger than the real data",
    "evil/data.py",
    (z) =>
      setField(z, "evil/data.py", "uncompressedSize", getField(z, "evil/data.py", "uncompressedSize") * 2),
    /declares \d+ bytes but holds \d+/,
  ],
  [
    "a compressed size that cuts the deflate stream short",
    "evil/data.py",
    (z) => setField(z, "evil/data.py", "compressedSize", getField(z, "evil/data.py", "compressedSize") - 8),
    /deflate stream cut short/,
  ],
  [
    "a local header name unlike the central directory's",
    "evil/__init__.py",
    (z) => renameLocal(z, "evil/__init__.py", "E"),
    /is named "Evil\/__init__\.py" in its local header/,
  ],
  [
    "an unsupported compression method",
    "evil/data.py",
    (z) => setField(z, "evil/data.py", "method", 14),
    /uses compression method 14/,
  ],
  [
    "an encrypted entry",
    "evil/data.py",
    (z) => setField(z, "evil/data.py", "flags", getField(z, "evil/data.py", "flags") | 1),
    /is encrypted/,
  ],
];

for (const [what, entry, tamper, why] of lies) {
  test(`a wheel with ${what} is refused, naming wheel and entry, and nothing is written`, async (t) => {
    const p = await project(t, tamperedWith(tamper));
    await assertRefused(p, entry, why);
  });
}

test("a wheel whose entries overlap (each honest alone) is refused", async (t) => {
  const p = await project(t, async (path, wheelFiles) => {
    const { "evil/data.py": data, ...rest } = wheelFiles;
    await overlappingZip(path, "evil/blob.bin", "evil/data.py", data as string, rest);
  });
  await assertRefused(p, "evil/data.py", /overlaps entry evil\/blob\.bin/);
});

test("an honest wheel is verified once: rebuilds take the cached verdict and never read it to trust it", async (t) => {
  const p = await project(t, (path, wheelFiles) => pythonZip(path, wheelFiles));
  const first = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.equal(first.code, 0, first.stderr);
  const zipPath = join(p.dir, ".tug", "out", "lambdas", "fn.zip");
  await runTool("python3", [
    "-c",
    "import sys, zipfile; assert zipfile.ZipFile(sys.argv[1]).testzip() is None",
    zipPath,
  ]);

  // Make the cached wheel a liar in its central directory only (its data stays right): any
  // re-verification would now refuse it, so a rebuild that succeeds did not verify it again.
  const blobs = join(p.cache, "blobs", "sha256");
  const [blob] = (await readdir(blobs)).filter((n) => /^[0-9a-f]{64}$/.test(n));
  assert.ok(blob, "the wheel is a blob of the cache");
  const wheel = await readFile(join(blobs, blob));
  setField(wheel, "evil/data.py", "crc32", 0xdeadbeef, "central");
  await writeFile(join(blobs, blob), wheel);

  const noop = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.equal(noop.code, 0, noop.stderr);
  await writeFile(join(p.dir, "app.py"), `${APP}\n# edited\n`);
  const edit = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.equal(edit.code, 0, edit.stderr);
  // The edit rebuild copied the wheel's entries from the ranges verified the first time.
  await runTool("python3", [
    "-c",
    "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; assert b'edited' in z.read('app.py')",
    zipPath,
  ]);

  // Without the cached verdict the same wheel is read, verified and refused (without the output
  // record too: an edit that keeps the imports would reuse the last zip's wheel part unread).
  await rm(join(p.cache, "ac", "wheel-table"), { recursive: true, force: true });
  await rm(join(p.cache, "ac", "lambda-out"), { recursive: true, force: true });
  await writeFile(join(p.dir, "app.py"), `${APP}\n# edited again\n`);
  const cold = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(cold.code, 0);
  assert.match(cold.stderr, /error: wheel evil-1\.0-py3-none-any\.whl: entry evil\/data\.py declares CRC-32/);
});
