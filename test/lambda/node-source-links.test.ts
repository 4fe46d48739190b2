// A Node lambda's first-party sources stay inside the project: esbuild follows symlinks, so a
// link from src/ to a file elsewhere would put that file (a credentials file, say) in the zip.
import assert from "node:assert/strict";
import { mkdir, readdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import test from "node:test";
import { runTug } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";

const TUG_YAML = "lambdas:\n  api: { runtime: nodejs20.x, handler: src/api.ts:handler }\n";
const API =
  'import { token } from "./config.ts";\nexport const handler = async () => ({ ok: token.length > 0 });\n';

async function project(t: test.TestContext, link: (dir: string, outside: string) => Promise<void>) {
  const root = await tempDir(t, "tug-node-links-");
  const dir = join(root, "proj");
  const outside = join(root, "outside");
  await mkdir(join(dir, "src"), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, "config.ts"), 'export const token = "CANARY-node-secret-93f1";\n');
  await writeFile(join(dir, "tug.yaml"), TUG_YAML);
  await writeFile(join(dir, "package.json"), '{"name":"proj","version":"1.0.0"}\n');
  await writeFile(join(dir, "src", "api.ts"), API);
  await link(dir, outside);
  return { dir, cache: join(root, "cache") };
}

test("a node lambda source that is a symlink out of the project is refused, naming it; nothing written", async (t) => {
  const { dir, cache } = await project(t, (d, outside) =>
    symlink(join(outside, "config.ts"), join(d, "src", "config.ts")),
  );
  const r = await runTug(["build"], { cwd: dir, env: { TUG_CACHE: cache } });
  assert.notEqual(r.code, 0, r.stderr);
  assert.equal(r.stderr.match(/^error:/gm)?.length, 1, r.stderr);
  assert.match(r.stderr, /bundle would include \.\.\/outside\/config\.ts, outside the project .*a symlink/);
  assert.doesNotMatch(r.stdout + r.stderr, /CANARY-node-secret/);
  const out = await readdir(join(dir, ".tug", "out", "lambdas")).catch(() => []);
  assert.deepEqual(out, [], "no zip written");
});

test("a node lambda source linked to another file inside the project still builds", async (t) => {
  const { dir, cache } = await project(t, async (d) => {
    await mkdir(join(d, "shared"));
    await writeFile(join(d, "shared", "config.ts"), 'export const token = "inside";\n');
    await symlink(join(d, "shared", "config.ts"), join(d, "src", "config.ts"));
  });
  const r = await runTug(["build"], { cwd: dir, env: { TUG_CACHE: cache } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok((await readdir(join(dir, ".tug", "out", "lambdas"))).includes("api.zip"));
});
