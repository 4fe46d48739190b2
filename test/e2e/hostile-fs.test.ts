// Issue 9, the local file system: hostile tug.yaml files (rule 8) and a full or failing disk
// under the output and the cache (rule 9). Every case runs the real CLI and asserts one clear
// error, a non-zero exit, and that nothing half-written is left behind.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { type CliResult, runTug } from "../support/cli.ts";
import { assertOneHostileFsError, listTree } from "../support/hostile-fs.ts";
import { tempDir } from "../support/tmp.ts";

interface Project {
  dir: string;
  cache: string;
}

async function projectWith(t: TestContext, yaml: string | Buffer): Promise<Project> {
  const dir = await tempDir(t, "tug-hostile-fs-");
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
