// Bad input through the real CLI: each mistake gets one actionable message, a non-zero exit and
// no stack trace, and leaves nothing half-written behind.
//
// "Nothing half-written" means, after every failed run:
// - the cache passes auditCache: no temp file in $TUG_CACHE/tmp, no lock left, every desc/diff
//   record names a blob that is there with its recorded size, every blob hashes to its name;
// - `.tug/out` does not exist when the failure comes before any output is written (config,
//   context, base reference, registry failures) or, when a local output was under way (the
//   corrupt base), it holds no temp file, no `NAME.tar` of the failed target, no index.json
//   entry for it, and only blobs that hash to their names.
import assert from "node:assert/strict";
import { readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { makeBusyboxBase } from "../support/bases.ts";
import { auditCache, auditLayout } from "../support/cache-audit.ts";
import { type CliResult, runTug } from "../support/cli.ts";
import { startRegistry } from "../support/registry.ts";
import { registryTags } from "../support/registry-audit.ts";
import { tempDir } from "../support/tmp.ts";
import { freePort } from "../support/tools.ts";

interface Fixture {
  dir: string;
  cache: string;
  /** An empty DOCKER_CONFIG (and podman login dirs): no credentials from the machine running the tests. */
  dockerConfig: string;
}

async function fixture(t: TestContext, yaml: string): Promise<Fixture> {
  const dir = await tempDir(t, "tug-bad-");
  await writeFile(join(dir, "tug.yaml"), yaml);
  await writeFile(join(dir, "hello.txt"), "hello\n");
  return { dir, cache: join(dir, "cache"), dockerConfig: await tempDir(t, "tug-dockercfg-") };
}

function tug(f: Fixture, args: string[]): Promise<CliResult> {
  return runTug(["build", ...args], {
    cwd: f.dir,
    env: {
      TUG_CACHE: f.cache,
      DOCKER_CONFIG: f.dockerConfig,
      XDG_CONFIG_HOME: f.dockerConfig,
      XDG_RUNTIME_DIR: f.dockerConfig,
      REGISTRY_AUTH_FILE: "",
      TUG_REPO: "",
    },
  });
}

const files = (extra = "") => `images:\n  app:\n    builder: files\n    context: .\n    dest: /srv\n${extra}`;

/** One `error:` line matching `what`, then the `where:`/`hint:` lines asked for; no stack. */
function assertOneError(
  t: TestContext,
  r: CliResult,
  what: RegExp,
  more: { where?: RegExp; hint?: boolean } = {},
): void {
  t.diagnostic(r.stderr.trimEnd());
  const ctx = `exit ${r.code}\nstderr:\n${r.stderr}`;
  assert.notEqual(r.code, 0, ctx);
  assert.equal(r.signal, null, ctx);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error: "));
  assert.equal(errors.length, 1, ctx);
  assert.match(errors[0]!, what, ctx);
  assert.doesNotMatch(r.stderr, /^\s+at .+[:(]/m, `stack trace printed\n${ctx}`);
  assert.doesNotMatch(r.stderr, /internal error/, ctx);
  if (more.where) assert.match(r.stderr, new RegExp(`^  where: .*${more.where.source}`, "m"), ctx);
  if (more.hint) assert.match(r.stderr, /^ {2}hint: \S/m, ctx);
  assert.equal(r.stdout, "", ctx);
}

async function assertNoOutputs(f: Fixture): Promise<void> {
  const out = await stat(join(f.dir, ".tug", "out")).then(
    () => true,
    () => false,
  );
  assert.equal(out, false, ".tug/out was created by a failed build");
}

async function assertCacheSound(f: Fixture): Promise<void> {
  assert.deepEqual(await auditCache(f.cache), []);
}

test("malformed tug.yaml: the line, no stack", async (t) => {
  const f = await fixture(t, "images:\n  app:\n    builder: files\n    dest: [/srv\n    context: .\n");
  const r = await tug(f, []);
  assertOneError(t, r, /invalid YAML/, { where: /tug\.yaml:\d+/, hint: true });
  await assertNoOutputs(f);
  await assertCacheSound(f);
});

test("unknown builder: names it and the ones that exist", async (t) => {
  const f = await fixture(t, "images:\n  app:\n    builder: rust\n    context: .\n");
  const r = await tug(f, []);
  assertOneError(t, r, /unknown builder "rust".*go, node, files, command/, {
    where: /images\.app\.builder \(tug\.yaml:3/,
  });
  await assertNoOutputs(f);
  await assertCacheSound(f);
});

test("missing context directory", async (t) => {
  const f = await fixture(t, "images:\n  app:\n    builder: files\n    context: ./nope\n    dest: /srv\n");
  const r = await tug(f, []);
  assertOneError(t, r, /context directory .*nope.* does not exist/, {
    where: /images\.app\.context/,
    hint: true,
  });
  await assertNoOutputs(f);
  await assertCacheSound(f);
});

test("invalid base reference", async (t) => {
  const f = await fixture(t, files('    base: "Foo Bar:::"\n'));
  const r = await tug(f, []);
  assertOneError(t, r, /reference/, { where: /images\.app\.base \(tug\.yaml:6/, hint: true });
  await assertNoOutputs(f);
  await assertCacheSound(f);
});

test("unreachable registry: connection refused, nothing published", async (t) => {
  const f = await fixture(t, files());
  const port = await freePort(); // free, so nothing listens on it
  const r = await tug(f, ["--repo", `127.0.0.1:${port}/x`]);
  assertOneError(t, r, new RegExp(`cannot reach registry 127\\.0\\.0\\.1:${port}`), { hint: true });
  await assertNoOutputs(f);
  await assertCacheSound(f);
});

test("401 without credentials: says how to log in", async (t) => {
  const registry = await startRegistry(t, { htpasswd: { username: "alice", password: "s3cret" } });
  const f = await fixture(t, files());
  const r = await tug(f, ["--repo", registry.repo("x")]);
  assertOneError(t, r, new RegExp(`${registry.host}:${registry.port}`), { hint: true });
  assert.match(r.stderr, /login|credential|auth/i);
  await assertNoOutputs(f);
  await assertCacheSound(f);
});

test("symlink in a files context pointing outside it", async (t) => {
  const f = await fixture(t, files());
  await symlink("/etc/passwd", join(f.dir, "passwd"));
  const r = await tug(f, []);
  assertOneError(t, r, /symlink passwd points outside the build context/, {
    where: /images\.app/,
    hint: true,
  });
  await assertNoOutputs(f);
  await assertCacheSound(f);
});

/** A copy of the busybox base whose (only) layer blob has different bytes of the same size. */
async function corruptBase(dir: string): Promise<{ layout: string; digest: string }> {
  const base = await makeBusyboxBase(join(dir, "busybox"));
  const blob = (d: string) => join(base.layout, "blobs", "sha256", d.replace("sha256:", ""));
  const index = JSON.parse(await readFile(join(base.layout, "index.json"), "utf8")) as {
    manifests: Array<{ digest: string }>;
  };
  const manifest = JSON.parse(await readFile(blob(index.manifests[0]!.digest), "utf8")) as {
    layers: Array<{ digest: string }>;
  };
  const digest = manifest.layers.at(-1)!.digest;
  const bytes = await readFile(blob(digest));
  for (let i = Math.floor(bytes.length / 2); i < bytes.length / 2 + 64; i++) bytes[i] = bytes[i]! ^ 0xff;
  // The layout's blobs are hard links into a shared cache of test bases: replace, never write in place.
  await rm(blob(digest));
  await writeFile(blob(digest), bytes);
  return { layout: base.layout, digest };
}

test("corrupt base layer: refused locally, the message names the blob", async (t) => {
  const f = await fixture(t, "");
  // Outside the context: its blobs are hard links other tests link too (a link changes ctime).
  const base = await corruptBase(await tempDir(t, "tug-bad-base-"));
  await writeFile(join(f.dir, "tug.yaml"), files(`    base: oci-layout:${base.layout}:latest\n`));
  const r = await tug(f, []);
  assertOneError(t, r, new RegExp(base.digest));
  const out = join(f.dir, ".tug", "out");
  const tar = await stat(join(out, "app.tar")).then(
    () => true,
    () => false,
  );
  assert.equal(tar, false, "a docker tarball holding the corrupt layer was written");
  assert.deepEqual(await auditLayout(join(out, "oci")), []);
  const index = await readFile(join(out, "oci", "index.json"), "utf8").catch(() => "");
  assert.doesNotMatch(
    index,
    /"org\.opencontainers\.image\.ref\.name":"app"/,
    "the layout tags an image with the corrupt layer",
  );
  await assertCacheSound(f);
});

test("corrupt base layer: refused by push, the registry holds no manifest", async (t) => {
  const registry = await startRegistry(t);
  const f = await fixture(t, "");
  // Outside the context: its blobs are hard links other tests link too (a link changes ctime).
  const base = await corruptBase(await tempDir(t, "tug-bad-base-"));
  await writeFile(join(f.dir, "tug.yaml"), files(`    base: oci-layout:${base.layout}:latest\n`));
  const r = await tug(f, ["--repo", registry.repo("x")]);
  assertOneError(t, r, new RegExp(base.digest));
  assert.deepEqual(await registryTags(registry), []);
  await assertNoOutputs(f);
  await assertCacheSound(f);
});
