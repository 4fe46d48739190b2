// bin/tug.js runs dist/cli.cjs through V8's code cache in $TUG_CACHE/v8: written after a
// successful run, reused as is, and never trusted when damaged or left by another build.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { bundleCli } from "../support/cli-bundle.ts";
import { tempDir } from "../support/tmp.ts";

let tug: string[];
let bundleDir: string;
before(async () => {
  bundleDir = await mkdtemp(join(tmpdir(), "tug-code-cache-bundle-"));
  tug = await bundleCli(bundleDir);
});
after(() => rm(bundleDir, { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv, cwd?: string) {
  const r = spawnSync(tug[0]!, [...tug.slice(1), ...args], {
    env: { ...process.env, FORCE_COLOR: undefined, ...env },
    cwd,
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const cacheFiles = (cache: string) => readdirSync(join(cache, "v8")).filter((f) => f.startsWith("cli-"));

test("the first successful run writes the command's code cache; later runs read it without rewriting", async (t) => {
  const cache = await tempDir(t, "tug-code-cache-");
  const first = run(["--version"], { TUG_CACHE: cache });
  assert.equal(first.code, 0, first.stderr);
  const [file] = cacheFiles(cache);
  assert.match(file ?? "", /^cli-[0-9a-f]{16}-v\d+\.\d+\.\d+-\w+-other\.v8$/);
  const path = join(cache, "v8", file!);
  const written = statSync(path).mtimeMs;
  assert.equal(statSync(path).mode & 0o777, 0o600);

  const again = run(["--version"], { TUG_CACHE: cache });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, first.stdout);
  assert.equal(statSync(path).mtimeMs, written, "an accepted cache is not rewritten");

  // Another command has its own cache: help compiles other code than --version.
  assert.equal(run(["help", "build"], { TUG_CACHE: cache }).code, 0);
  assert.deepEqual(cacheFiles(cache).sort(), [file!, file!.replace("-other.v8", "-help.v8")].sort());
});

test("a damaged cache is not handed to V8: the run compiles, succeeds and writes a good one", async (t) => {
  const cache = await tempDir(t, "tug-code-cache-");
  assert.equal(run(["--version"], { TUG_CACHE: cache }).code, 0);
  const path = join(cache, "v8", cacheFiles(cache)[0]!);
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  writeFileSync(path, bytes);
  const r = run(["--version"], { TUG_CACHE: cache });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.notDeepEqual(readFileSync(path), bytes, "rewritten");

  writeFileSync(path, "tiny");
  assert.equal(run(["--version"], { TUG_CACHE: cache }).code, 0);
  assert.ok(statSync(path).size > 1000);
});

test("caches of another build are removed; a failed run writes none; an unwritable cache only costs time", async (t) => {
  const cache = await tempDir(t, "tug-code-cache-");
  await mkdir(join(cache, "v8"));
  const stale = join(cache, "v8", "cli-0123456789abcdef-v20.0.0-x64-build.v8");
  writeFileSync(stale, "old");

  const empty = await tempDir(t, "tug-code-cache-noproject-");
  const failed = run(["build"], { TUG_CACHE: cache }, empty);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /no tug\.yaml/);
  assert.deepEqual(cacheFiles(cache), [stale.split("/").pop()], "a failed run writes no cache");

  assert.equal(run(["--version"], { TUG_CACHE: cache }).code, 0);
  assert.ok(!cacheFiles(cache).includes("cli-0123456789abcdef-v20.0.0-x64-build.v8"));

  // TUG_CACHE under a regular file: no cache can be written, the command still works.
  const blocker = join(empty, "file");
  writeFileSync(blocker, "");
  const r = run(["--version"], { TUG_CACHE: join(blocker, "cache") });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
});
