// Issue 9, the local file system: hostile tug.yaml files (rule 8) and a full or failing disk
// under the output and the cache (rule 9). Every case runs the real CLI and asserts one clear
// error, a non-zero exit, and that nothing half-written is left behind.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { type CliResult, runTug } from "../support/cli.ts";
import {
  assertOneHostileFsError,
  fillUp,
  listTree,
  mountSmallTmpfs,
  tempDirWithMounts,
} from "../support/hostile-fs.ts";

interface Project {
  dir: string;
  cache: string;
}

async function projectWith(t: TestContext, yaml: string | Buffer): Promise<Project> {
  const dir = await tempDirWithMounts(t, "tug-hostile-fs-");
  await writeFile(join(dir, "tug.yaml"), yaml);
  await writeFile(join(dir, "hello.txt"), "hello\n");
  return { dir, cache: join(dir, "cache") };
}

function build(p: Project, args: string[] = []): Promise<CliResult> {
  return runTug(["build", ...args], { cwd: p.dir, env: { TUG_CACHE: p.cache, TUG_REPO: "" } });
}

async function assertNothingBuilt(p: Project): Promise<void> {
  assert.deepEqual(await listTree(join(p.dir, ".tug", "out")), [], ".tug/out was written by a failed build");
}

const IMAGE = "images:\n  app:\n    builder: files\n    context: .\n    dest: /srv\n";

test("tug.yaml alias bomb: refused before expansion, located at the first alias", async (t) => {
  // Nine levels of nine aliases each: 9^9 (387 million) values once expanded.
  let yaml = 'x-a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
  for (let i = 1; i < 9; i++)
    yaml += `x-a${i}: &a${i} [${Array(9)
      .fill(`*a${i - 1}`)
      .join(",")}]\n`;
  const p = await projectWith(t, `${yaml}${IMAGE}`);
  const r = await build(p);
  assertOneHostileFsError(t, r, /aliases expand to more than 1000 values/, { where: /tug\.yaml:2:/ });
  await assertNothingBuilt(p);
});

test("tug.yaml with more aliases than any real file: refused on the token scan", async (t) => {
  const aliases = Array.from({ length: 200 }, (_, i) => `x-b${i}: *a`).join("\n");
  const p = await projectWith(t, `x-a: &a 1\n${aliases}\n${IMAGE}`);
  const r = await build(p);
  assertOneHostileFsError(t, r, /more than 100 aliases/, { where: /tug\.yaml:\d+:/ });
  await assertNothingBuilt(p);
});

test("a 50 MB tug.yaml: refused by size without reading it", async (t) => {
  const filler = Buffer.alloc(50 << 20, "# padding padding padding padding padding padding\n");
  const p = await projectWith(t, Buffer.concat([Buffer.from(IMAGE), filler]));
  const r = await build(p);
  assertOneHostileFsError(t, r, /tug\.yaml is too big \(50 MiB, more than the 1 MiB tug reads\)/, {
    where: /tug\.yaml/,
  });
  await assertNothingBuilt(p);
});

test("tug.yaml linked to an endless device: the read is bounded", async (t) => {
  const p = await projectWith(t, "");
  await rm(join(p.dir, "tug.yaml"));
  await symlink("/dev/zero", join(p.dir, "tug.yaml"));
  // Named with -c: found by itself, a tug.yaml that is not a regular file is not a project.
  const r = await build(p, ["-c", "tug.yaml"]);
  assertOneHostileFsError(t, r, /tug\.yaml is too big \(more than the 1 MiB tug reads\)/, {
    where: /tug\.yaml/,
  });
  await assertNothingBuilt(p);
});

test("a 100k-node tug.yaml: refused at the node limit", async (t) => {
  const list = Array.from({ length: 100_000 }, () => "1").join(",");
  const p = await projectWith(t, `${IMAGE}x-data: [${list}]\n`);
  const r = await build(p);
  assertOneHostileFsError(t, r, /more than 50000 values/, { where: /tug\.yaml:6:/ });
  await assertNothingBuilt(p);
});

test("deeply nested tug.yaml (brackets): refused, not a stack overflow", async (t) => {
  const p = await projectWith(t, `${IMAGE}x-deep: ${"[".repeat(20_000)}1${"]".repeat(20_000)}\n`);
  const r = await build(p);
  assertOneHostileFsError(t, r, /nests more than 64 levels deep/, { where: /tug\.yaml:6:/ });
  await assertNothingBuilt(p);
});

test("deeply nested tug.yaml (block sequences): refused, not a stack overflow", async (t) => {
  for (const depth of [200, 20_000]) {
    const p = await projectWith(t, `${IMAGE}x-deep:\n  ${"- ".repeat(depth)}1\n`);
    const r = await build(p);
    assertOneHostileFsError(t, r, /nests more than 64 levels deep/, { where: /tug\.yaml:\d+:/ });
    await assertNothingBuilt(p);
  }
});

// A Python lambda with no requirements (no index is contacted) whose own module is `bytes` of
// random base64: the zip cannot compress it, so its size is about `bytes`.
async function lambdaProject(t: TestContext): Promise<Project> {
  const p = await projectWith(
    t,
    "lambdas:\n  api: { runtime: python3.12, architecture: x86_64, handler: lambdas/api.py:handler }\n",
  );
  await mkdir(join(p.dir, "lambdas"));
  await writeFile(
    join(p.dir, "lambdas", "api.py"),
    "import data\n\n\ndef handler(event, context):\n    return len(data.DATA)\n",
  );
  await writeFile(join(p.dir, "requirements.txt"), "");
  await setLambdaData(p, 10_000);
  return p;
}

function setLambdaData(p: Project, bytes: number): Promise<void> {
  return writeFile(join(p.dir, "data.py"), `DATA = "${randomBytes(bytes).toString("base64")}"\n`);
}

function buildLambda(p: Project): Promise<CliResult> {
  // An empty TUG_INDEX_URL and PIP_CONFIG_FILE keep the machine's index settings out.
  return runTug(["build"], {
    cwd: p.dir,
    env: { TUG_CACHE: p.cache, TUG_REPO: "", TUG_INDEX_URL: "", PIP_CONFIG_FILE: "/dev/null" },
  });
}

function assertBuilt(r: CliResult): void {
  assert.equal(r.code, 0, `exit ${r.code}\nstderr:\n${r.stderr}`);
}

async function assertCacheVerifies(p: Project): Promise<void> {
  const r = await runTug(["cache", "verify"], { cwd: p.dir, env: { TUG_CACHE: p.cache } });
  assert.equal(r.code, 0, `tug cache verify exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

test("lambda zip on a full output disk: one ENOSPC error, the previous zip intact, no temp left", async (t) => {
  const p = await lambdaProject(t);
  const out = join(p.dir, ".tug", "out");
  if (!(await mountSmallTmpfs(t, out, "2m"))) return;
  assertBuilt(await buildLambda(p));
  const files = await listTree(out);
  assert.deepEqual(files, ["lambdas/api.zip", "lambdas/api.zip.json", "lambdas/api.zip.spdx.json"]);
  const before = await Promise.all(files.map((f) => readFile(join(out, f))));

  await setLambdaData(p, 3_000_000);
  const r = await buildLambda(p);
  assertOneHostileFsError(
    t,
    r,
    /no space left on device while writing the zip \S*\.tug\/out\/lambdas\/api\.zip \(ENOSPC\)/,
    {
      where: /\.tug\/out\/lambdas\/api\.zip/,
    },
  );
  assert.deepEqual(await listTree(out), files, "a temp or partial file was left in the output");
  const after = await Promise.all(files.map((f) => readFile(join(out, f))));
  assert.deepEqual(after, before, "the previous good zip was changed");
  await assertCacheVerifies(p);

  // With room again, the same build succeeds.
  await setLambdaData(p, 20_000);
  assertBuilt(await buildLambda(p));
  assert.deepEqual(await listTree(out), files);
});

test("cache on a full disk: one ENOSPC error naming the cache; after freeing space it builds and verifies", async (t) => {
  const p = await lambdaProject(t);
  if (!(await mountSmallTmpfs(t, p.cache, "2m"))) return;
  const filler = await fillUp(p.cache);
  const r = await buildLambda(p);
  assertOneHostileFsError(
    t,
    r,
    // The cache's own writer may name the record; the project loader names the cache.
    /no space left on device while writing .* into tug's cache \S*\/cache(\/\S*)? \(ENOSPC\)/,
    {
      where: /cache/,
    },
  );
  assert.deepEqual(await listTree(join(p.dir, ".tug", "out")), [], "an output appeared after a failed build");
  assert.deepEqual(
    (await listTree(p.cache)).filter((f) => f !== "filler"),
    [],
    "a temp or partial record was left in the cache",
  );

  await rm(filler);
  assertBuilt(await buildLambda(p));
  await assertCacheVerifies(p);
  assertBuilt(await buildLambda(p));
});

test("lambda output on a read-only file system: one EROFS error naming the directory", async (t) => {
  const p = await lambdaProject(t);
  const out = join(p.dir, ".tug", "out");
  if (!(await mountSmallTmpfs(t, out, "2m", { readOnly: true }))) return;
  const r = await buildLambda(p);
  assertOneHostileFsError(
    t,
    r,
    /read-only file system while writing the output directory \S*\.tug\/out\/lambdas \(EROFS\)/,
  );
  await assertCacheVerifies(p);
});
test("image on a full output disk: one ENOSPC error, no temp left, the previous image intact", async (t) => {
  const p = await projectWith(t, "images:\n  app:\n    builder: files\n    context: ctx\n    dest: /srv\n");
  await mkdir(join(p.dir, "ctx"));
  await writeFile(join(p.dir, "ctx", "data.bin"), randomBytes(10_000));
  const out = join(p.dir, ".tug", "out");
  if (!(await mountSmallTmpfs(t, out, "2m"))) return;
  const first = await build(p);
  assert.equal(first.code, 0, first.stderr);
  const files = await listTree(out);
  const tarball = await readFile(join(out, "app.tar"));

  await writeFile(join(p.dir, "ctx", "data.bin"), randomBytes(3_000_000));
  const r = await build(p);
  assertOneHostileFsError(
    t,
    r,
    /no space left on device while writing (the docker tarball|an image layout blob) \S*\.tug\/out\/\S+ \(ENOSPC\)/,
  );
  const left = await listTree(out);
  assert.deepEqual(
    left.filter((f) => /tmp/.test(f)),
    [],
    "a temp file was left in the output",
  );
  // app.tar.digest only says which image app.tar holds; sinks.ts drops it before rewriting.
  const outputs = files.filter((f) => !f.endsWith(".digest"));
  assert.deepEqual(
    outputs.filter((f) => !left.includes(f)),
    [],
    "a previous output file is gone",
  );
  assert.deepEqual(await readFile(join(out, "app.tar")), tarball, "the previous tarball was changed");
  await assertCacheVerifies(p);

  await writeFile(join(p.dir, "ctx", "data.bin"), randomBytes(20_000));
  const again = await build(p);
  assert.equal(again.code, 0, again.stderr);
});

test("image layer bigger than the cache's disk: one ENOSPC error; the cache stays valid and builds again", async (t) => {
  const p = await projectWith(t, "images:\n  app:\n    builder: files\n    context: ctx\n    dest: /srv\n");
  await mkdir(join(p.dir, "ctx"));
  await writeFile(join(p.dir, "ctx", "data.bin"), randomBytes(3_000_000));
  if (!(await mountSmallTmpfs(t, p.cache, "2m"))) return;
  const r = await build(p);
  assertOneHostileFsError(
    t,
    r,
    /no space left on device while writing a layer into tug's cache \S+ \(ENOSPC\)/,
  );
  assert.deepEqual(
    (await listTree(p.cache)).filter((f) => /tmp/.test(f)),
    [],
    "a temp file was left in the cache",
  );
  await assertCacheVerifies(p);

  await writeFile(join(p.dir, "ctx", "data.bin"), randomBytes(20_000));
  const again = await build(p);
  assert.equal(again.code, 0, again.stderr);
  await assertCacheVerifies(p);
});
