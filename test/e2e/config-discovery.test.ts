// Issue 13 "Conventions" 1 and 3: tug.yaml found in the working directory or a parent (paths
// relative to the file), -c/--config, the deprecated --file, the error without any tug.yaml, and
// options a command does not declare refused.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { runTug } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";
import { skopeoInspectRaw } from "../support/tools.ts";

async function siteProject(t: TestContext): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = await tempDir(t, "tug-discovery-");
  await mkdir(join(dir, "site", "deep", "er"), { recursive: true });
  await writeFile(join(dir, "site", "index.html"), "<p>found</p>\n");
  await writeFile(
    join(dir, "tug.yaml"),
    "images:\n  site:\n    builder: files\n    context: ./site\n    dest: /srv/www\n",
  );
  return {
    dir,
    env: { TUG_CACHE: await tempDir(t, "tug-discovery-cache-"), TUG_REPO: undefined, CI: undefined },
  };
}

test("tug build finds tug.yaml in a parent directory; paths stay relative to the file", async (t) => {
  const p = await siteProject(t);
  const r = await runTug(["build", "--json", "-q"], { cwd: join(p.dir, "site", "deep", "er"), env: p.env });
  assert.equal(r.code, 0, r.stderr);
  const [a] = (JSON.parse(r.stdout) as { artifacts: Array<{ target: string }> }).artifacts;
  assert.equal(a?.target, "site");
  // Outputs land beside tug.yaml, not in the working directory.
  const m = await skopeoInspectRaw(`oci:${join(p.dir, ".tug", "out", "oci")}:site`);
  assert.equal(m.layers?.length, 1);
});

test("-c/--config names the project file from anywhere; --file still works with a deprecation note", async (t) => {
  const p = await siteProject(t);
  const elsewhere = await tempDir(t, "tug-elsewhere-");
  const file = join(p.dir, "tug.yaml");
  for (const flag of ["-c", "--config"]) {
    const r = await runTug(["build", flag, file, "--json", "-q"], { cwd: elsewhere, env: p.env });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /deprecated/);
  }
  const old = await runTug(["build", "--file", file, "--json", "-q"], { cwd: elsewhere, env: p.env });
  assert.equal(old.code, 0, old.stderr);
  assert.match(old.stderr, /--file is deprecated .*use -c\/--config/);
  // -f is no longer the config (it names manifests on resolve/apply).
  const f = await runTug(["build", "-f", file], { cwd: elsewhere, env: p.env });
  assert.notEqual(f.code, 0);
  assert.match(f.stderr, /unknown option '-f'/);
  // explain and invoke take -c too.
  const ex = await runTug(["explain", "site", "-c", file], { cwd: elsewhere, env: p.env });
  assert.equal(ex.code, 0, ex.stderr);
  assert.match(ex.stdout, /^site {2}/m);
});

test("no tug.yaml here or above: tug build is one error naming tug init and zero-config, nothing built", async (t) => {
  const dir = await tempDir(t, "tug-no-config-");
  await mkdir(join(dir, "node_modules", "big"), { recursive: true });
  await writeFile(join(dir, "node_modules", "big", "index.js"), "x\n");
  const env = { TUG_CACHE: await tempDir(t, "tug-no-config-cache-"), TUG_REPO: undefined };
  const r = await runTug(["build"], { cwd: dir, env });
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `error: no tug.yaml here or above\n  where: ${dir}\n  hint: \`tug init\` writes one, or \`tug build ./dir\` builds a directory zero-config\n`,
  );
  assert.equal(r.stdout, "");
  // A target name without a project is the same error, not a zero-config build of the cwd.
  const named = await runTug(["build", "web"], { cwd: dir, env });
  assert.equal(named.code, 1);
  assert.match(named.stderr, /^error: no tug.yaml here or above$/m);
});

test("options a command does not use are refused, not ignored", async (t) => {
  const p = await siteProject(t);
  const cases: Array<[string[], RegExp]> = [
    [["resolve", "-f", "x.yaml", "--out", "o"], /unknown option '--out'/],
    [["resolve", "-f", "x.yaml", "--json"], /unknown option '--json'/],
    [["dev", "--repo", "r"], /unknown option '--repo'/],
    [["explain", "site", "--repo", "r"], /unknown option '--repo'/],
    [["build", "--kubeconfig", "k"], /unknown option '--kubeconfig'/],
    [["cache", "stats", "-c", "tug.yaml"], /unknown option '-c'/],
    [["build", "--push=maybe"], /--push maybe: not true or false/],
  ];
  for (const [args, want] of cases) {
    const r = await runTug(args, { cwd: p.dir, env: p.env });
    assert.notEqual(r.code, 0, args.join(" "));
    assert.match(r.stderr, want, args.join(" "));
  }
});
