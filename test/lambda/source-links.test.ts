// Rule 12 of issue 9: a Python lambda's first-party sources stay inside the project. A module,
// a package directory on the import path, or the handler itself that is a symlink leading out is
// refused with one error naming the link and its target; nothing outside leaks into the zip,
// the cache or the output. Links that stay inside keep working.
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { runTug } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";
import { readZipIndependently } from "../zip/tools.ts";

const SECRET = "AKIA-CANARY-7f3a9c-do-not-ship";

interface Project {
  root: string;
  dir: string;
  env: NodeJS.ProcessEnv;
}

/** A project whose handler imports `helpers` (stdlib only, so no index is needed), and a secret beside it. */
async function project(t: TestContext, handler = "import helpers\n"): Promise<Project> {
  const root = await tempDir(t, "tug-source-links-");
  const dir = join(root, "project");
  await mkdir(join(root, "outside", "pkg"), { recursive: true });
  await writeFile(join(root, "outside", "secret.py"), `KEY = "${SECRET}"\n`);
  await writeFile(join(root, "outside", "pkg", "__init__.py"), `KEY = "${SECRET}"\n`);
  await writeFile(
    join(root, "outside", "app.py"),
    `KEY = "${SECRET}"\n\n\ndef handler(event, context):\n    return KEY\n`,
  );
  await mkdir(join(dir, "real"), { recursive: true });
  await writeFile(
    join(dir, "tug.yaml"),
    "lambdas:\n  fn: { runtime: python3.12, architecture: x86_64, handler: app.py:handler }\n",
  );
  await writeFile(join(dir, "app.py"), `${handler}\n\ndef handler(event, context):\n    return 1\n`);
  const env = { TUG_CACHE: join(root, "cache"), PIP_CONFIG_FILE: "/dev/null", TUG_INDEX_URL: "" };
  return { root, dir, env };
}

async function grepTree(dir: string, needle: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  const hits: string[] = [];
  for (const n of names) {
    const data = await readFile(join(dir, String(n))).catch(() => undefined);
    if (data?.includes(needle)) hits.push(String(n));
  }
  return hits;
}

async function assertRefused(p: Project, link: string, target: string): Promise<void> {
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(r.code, 0, r.stdout);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
  assert.deepEqual(errors, [`error: symlink ${link} points outside the project (to ${target})`], r.stderr);
  assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), "the secret was printed");
  assert.deepEqual(await readdir(join(p.dir, ".tug", "out")).catch(() => []), [], "no output was written");
  assert.deepEqual(await grepTree(join(p.root, "cache"), SECRET), [], "the secret reached the cache");
  assert.deepEqual(await grepTree(join(p.dir, ".tug"), SECRET), [], "the secret reached .tug");
}

test("a module that is a symlink to a file outside the project is refused", async (t) => {
  const p = await project(t);
  await symlink("../outside/secret.py", join(p.dir, "helpers.py"));
  await assertRefused(p, "helpers.py", "../outside/secret.py");
});

test("a package directory on the import path that links outside is refused", async (t) => {
  const p = await project(t, "import pkg\n");
  await symlink(join(p.root, "outside", "pkg"), join(p.dir, "pkg"));
  await assertRefused(p, "pkg", join(p.root, "outside", "pkg"));
});

test("a handler that is a symlink to a file outside the project is refused", async (t) => {
  const p = await project(t);
  await runTool("rm", [join(p.dir, "app.py")]);
  await symlink("../outside/app.py", join(p.dir, "app.py"));
  await assertRefused(p, "app.py", "../outside/app.py");
});

test("a handler that is a pipe is refused instead of hanging the build", async (t) => {
  const p = await project(t);
  await runTool("rm", [join(p.dir, "app.py")]);
  await runTool("mkfifo", [join(p.dir, "app.py")]);
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^error: app\.py is not a regular file$/m);
});

test("symlinks that stay inside the project keep working", async (t) => {
  const p = await project(t, "import helpers\nimport shared\n");
  await writeFile(join(p.dir, "real", "helpers.py"), "HELP = 1\n");
  await mkdir(join(p.dir, "real", "shared"));
  await writeFile(join(p.dir, "real", "shared", "__init__.py"), "SHARED = 2\n");
  await symlink("real/helpers.py", join(p.dir, "helpers.py"));
  await symlink(join(p.dir, "real", "shared"), join(p.dir, "shared"));
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.equal(r.code, 0, r.stderr);
  const byName = await readZipIndependently(join(p.dir, ".tug", "out", "lambdas", "fn.zip"));
  assert.equal((byName.get("helpers.py") ?? assert.fail("no helpers.py")).toString(), "HELP = 1\n");
  assert.ok(byName.has("shared/__init__.py"), [...byName.keys()].join(", "));
});
