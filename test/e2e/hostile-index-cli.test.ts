// Issue #9 end to end for the Python index: `tug build` of a small lambda project against a
// hostile or login-protected index on 127.0.0.1. Every attack: exit ≠ 0 with exactly one error
// (or a safe success), nothing outside $TUG_CACHE / .tug, no secret in stdout, stderr, the cache
// or the outputs.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import {
  assertAbsent,
  authorizedIndex,
  page,
  type Setup,
  setup,
  WHEEL,
} from "../lambda/support/hostile-index-fixture.ts";
import { type CliResult, runTug } from "../support/cli.ts";
import { filesContaining, sendBytes, sendJson, startHostileIndex } from "../support/hostile-index-server.ts";

interface LambdaProject {
  dir: string;
  env: NodeJS.ProcessEnv;
}

/** One Python lambda importing goodpkg; `indexUrl` undefined leaves python.index_url unset. */
async function lambdaProject(s: Setup, indexUrl: string | undefined, requirements = "goodpkg\n") {
  const dir = join(s.root, "project");
  await mkdir(dir, { recursive: true });
  const index = indexUrl === undefined ? "" : `  index_url: ${indexUrl}\n`;
  await writeFile(
    join(dir, "tug.yaml"),
    `python:\n${index}  requirements: requirements.txt\nlambdas:\n  fn: { runtime: python3.12, architecture: x86_64, handler: app.py:handler }\n`,
  );
  await writeFile(join(dir, "requirements.txt"), requirements);
  await writeFile(
    join(dir, "app.py"),
    "import goodpkg\n\n\ndef handler(event, context):\n    return goodpkg.VERSION\n",
  );
  // The runner's own pip/uv/tug settings must not leak into the project under test.
  const env: NodeJS.ProcessEnv = {
    TUG_CACHE: s.cacheDir,
    TUG_INDEX_URL: "",
    PIP_INDEX_URL: "",
    PIP_EXTRA_INDEX_URL: "",
    UV_INDEX_URL: "",
    UV_EXTRA_INDEX_URL: "",
    PIP_CONFIG_FILE: "/dev/null",
    NETRC: join(s.root, "no-netrc"),
  };
  return { dir, env } satisfies LambdaProject;
}

function errorLines(r: CliResult): string[] {
  return r.stderr.split("\n").filter((l) => l.startsWith("error:") || l.startsWith("internal error"));
}

async function assertNoSecret(s: Setup, p: LambdaProject, secret: string, ...outputs: CliResult[]) {
  for (const r of outputs) {
    assert.ok(!r.stdout.includes(secret), `stdout shows the secret:\n${r.stdout}`);
    assert.ok(!r.stderr.includes(secret), `stderr shows the secret:\n${r.stderr}`);
  }
  assert.deepEqual(await filesContaining(s.cacheDir, secret), [], "a file in the cache holds the secret");
  assert.deepEqual(await filesContaining(join(p.dir, ".tug"), secret), [], "a file in .tug holds the secret");
}

function goodpkgPage(s: Setup, hash: string) {
  return (_req: unknown, res: Parameters<typeof sendJson>[0], path: string) => {
    if (path === "/simple/goodpkg/") {
      return sendJson(res, page([{ filename: WHEEL, url: `/files/${WHEEL}`, hashes: { sha256: hash } }]));
    }
    sendBytes(res, s.wheel);
  };
}

test("tug build: an index whose sha256 is a path fails with one error and writes nothing outside the cache", async (t) => {
  const s = await setup(t);
  const index = await startHostileIndex(t, goodpkgPage(s, "../../../canary/x.pth"));
  const p = await lambdaProject(s, `${index.origin}/simple/`);
  const r = await runTug(["build"], { cwd: p.dir, env: p.env });
  assert.notEqual(r.code, 0);
  assert.deepEqual(errorLines(r), [
    `error: ${WHEEL} cannot be used: its sha256 "../../../canary/x.pth" is not a sha256 digest`,
  ]);
  await assertAbsent(join(s.canary, "x.pth"));
});

test("tug build: a password in index_url reaches the index only, never stdout, stderr, --json, explain, the cache or .tug", async (t) => {
  const s = await setup(t);
  const secret = "pa55-W0RD-s3cret";
  const basic = `Basic ${Buffer.from(`carol:${secret}`).toString("base64")}`;
  const honest = authorizedIndex(s, basic);
  const index = await startHostileIndex(t, (req, res, path) => {
    if (path === "/simple/brokenpkg/") return void res.writeHead(500).end();
    honest(req, res, path);
  });
  const p = await lambdaProject(s, `http://carol:${secret}@127.0.0.1:${index.port}/simple/`);
  const built = await runTug(["build", "--json"], { cwd: p.dir, env: p.env });
  assert.equal(built.code, 0, built.stderr);
  assert.ok(index.seen.length > 0 && index.seen.every((r) => r.authorization === basic));
  const explained = await runTug(["explain", "fn"], { cwd: p.dir, env: p.env });
  await writeFile(join(p.dir, "requirements.txt"), "goodpkg\nbrokenpkg\n");
  await writeFile(
    join(p.dir, "app.py"),
    "import brokenpkg\nimport goodpkg\n\n\ndef handler(event, context):\n    return 1\n",
  );
  const failed = await runTug(["build", "--json"], { cwd: p.dir, env: p.env });
  assert.notEqual(failed.code, 0);
  assert.equal(errorLines(failed).length, 1, failed.stderr);
  assert.match(failed.stderr, /cannot fetch the index page of brokenpkg from 127\.0\.0\.1:\d+: HTTP 500/);
  await assertNoSecret(s, p, secret, built, explained, failed);
});

test("tug build: PIP_INDEX_URL is honoured when tug names no index, with the login from $NETRC", async (t) => {
  const s = await setup(t);
  const secret = "netrc-pa55-s3cret";
  const basic = `Basic ${Buffer.from(`dave:${secret}`).toString("base64")}`;
  const index = await startHostileIndex(t, authorizedIndex(s, basic));
  const p = await lambdaProject(s, undefined);
  const netrc = join(s.root, "netrc");
  await writeFile(netrc, `machine 127.0.0.1 login dave password ${secret}\n`);
  const env = { ...p.env, PIP_INDEX_URL: `${index.origin}/simple/`, NETRC: netrc };
  const built = await runTug(["build", "--json"], { cwd: p.dir, env });
  assert.equal(built.code, 0, built.stderr);
  assert.ok(index.seen.some((r) => r.path === "/simple/goodpkg/" && r.authorization === basic));
  await assertNoSecret(s, p, secret, built);
});

test("tug --http-timeout 2 build: a silent index fails with one error naming the host and the page", async (t: TestContext) => {
  const s = await setup(t);
  const index = await startHostileIndex(t, () => {});
  const p = await lambdaProject(s, `${index.origin}/simple/`);
  const r = await runTug(["--http-timeout", "2", "build"], { cwd: p.dir, env: p.env });
  assert.notEqual(r.code, 0);
  const errors = errorLines(r);
  assert.equal(errors.length, 1, r.stderr);
  assert.match(
    errors[0] ?? "",
    new RegExp(
      `cannot fetch the index page of goodpkg from 127\\.0\\.0\\.1:${index.port}: (no answer|not finished)`,
    ),
  );
});
