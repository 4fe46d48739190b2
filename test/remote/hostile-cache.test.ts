// Issue 9, the shared cache: a hostile Bazel HTTP cache on 127.0.0.1 (and nginx WebDAV for the
// signing round trip) tries to make tug write or read outside its cache, ingest wrong bytes,
// parse huge bodies, hang, leak the cache's credentials, or accept records it did not sign.
// Every attack ends in a successful local build with exactly one warning, or a miss.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { canonicalJson } from "../../src/engine/key.ts";
import { buildFixtureIndex, serveFixtureIndex } from "../lambda/support/fixture-index.ts";
import { type CliResult, runTug } from "../support/cli.ts";
import {
  forgedEnvelope,
  type HostileCacheBehaviour,
  readEnvelope,
  startHostileCache,
} from "../support/hostile-cache-server.ts";
import { startNginxDav } from "../support/nginx-dav.ts";
import { tempDir } from "../support/tmp.ts";

interface Report {
  artifacts: Array<{ target: string; digest: string; cached: boolean }>;
}

const SECRET_CONTENT = "TOPSECRET-CANARY-7f3a9c";

/**
 * A checkout with a files image and a `command` image whose command counts its runs in a file
 * outside the checkout, so a test sees whether a builder ran.
 */
async function checkout(root: string, name: string, counter: string): Promise<string> {
  const dir = join(root, name);
  await fs.mkdir(join(dir, "public"), { recursive: true });
  await fs.mkdir(join(dir, "gen"), { recursive: true });
  await fs.writeFile(join(dir, "public", "index.html"), "<h1>hello</h1>\n");
  await fs.writeFile(join(dir, "gen", "input.txt"), "generated from input\n");
  await fs.writeFile(
    join(dir, "tug.yaml"),
    `images:
  site: { builder: files, context: ./public, dest: /srv/www }
  gen:
    builder: command
    context: ./gen
    run: "echo run >> ${counter} && mkdir -p out && cp input.txt out/"
    output: out
    inputs: [input.txt]
`,
  );
  return dir;
}

async function runs(counter: string): Promise<number> {
  const text = await fs.readFile(counter, "utf8").catch(() => "");
  return text.split("\n").filter(Boolean).length;
}

/** `tug build --json` in `dir`; the environment never inherits a key or a timeout from the caller. */
function build(dir: string, cache: string, remote: string, env: NodeJS.ProcessEnv = {}, args: string[] = []) {
  return runTug([...args, "build", "--out", join(dir, ".tug", "out"), "--json"], {
    cwd: dir,
    env: {
      TUG_CACHE: cache,
      TUG_REMOTE_CACHE: remote,
      // undefined: not passed on to the child at all
      TUG_REMOTE_CACHE_KEY: undefined,
      TUG_REMOTE_CACHE_TOKEN: undefined,
      TUG_REMOTE_CACHE_MODE: undefined,
      TUG_REMOTE_CACHE_TIMEOUT_MS: undefined,
      TUG_HTTP_TIMEOUT: undefined,
      ...env,
    },
  });
}

function digests(r: CliResult): Record<string, string> {
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  return Object.fromEntries(report.artifacts.map((a) => [a.target, a.digest]));
}

function cachedAll(r: CliResult): boolean {
  return (JSON.parse(r.stdout) as Report).artifacts.every((a) => a.cached);
}

function remoteWarnings(r: CliResult): string[] {
  return r.stderr.split("\n").filter((l) => l.includes("remote cache"));
}

async function* filesUnder(dir: string): AsyncGenerator<string> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* filesUnder(p);
    else if (e.isFile()) yield p;
  }
}

/** Files under `dirs` whose bytes contain `needle`, as paths relative to `root`. */
async function filesContaining(root: string, dirs: string[], needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const d of dirs) {
    for await (const f of filesUnder(d)) {
      if ((await fs.readFile(f)).includes(needle)) hits.push(relative(root, f));
    }
  }
  return hits;
}

/** Every blob in a local cache is named by its own sha256 (nothing wrong was ingested). */
async function assertBlobsVerify(cache: string): Promise<void> {
  for await (const f of filesUnder(join(cache, "blobs", "sha256"))) {
    const hex = createHash("sha256")
      .update(await fs.readFile(f))
      .digest("hex");
    assert.equal(hex, f.slice(f.lastIndexOf("/") + 1), `blob ${f} matches its name`);
  }
}

/** Clone A fills `remote` (honestly); returns its digests and the counter. */
async function fill(root: string, remote: string, env: NodeJS.ProcessEnv = {}) {
  const counter = join(root, "runs");
  const a = await checkout(root, "clone-a", counter);
  const first = await build(a, join(root, "cache-a"), remote, env);
  const reference = digests(first);
  assert.equal(await runs(counter), 1);
  return { reference, counter };
}

/** Rewrites every stored record of `kind` through `edit`, re-checksummed as a forger would. */
function forge(kind: string, edit: (value: Record<string, unknown>) => Record<string, unknown>) {
  return (_key: string, stored: Buffer | undefined): Buffer | undefined => {
    const env = stored && readEnvelope(stored);
    if (!env || env.kind !== kind || typeof env.value !== "object" || env.value === null) return undefined;
    return forgedEnvelope(kind, edit(env.value as Record<string, unknown>), canonicalJson);
  };
}

test("records whose digests are paths or not 64 hex: one warning, a local build, nothing outside the cache read or written", async (t) => {
  const root = await tempDir(t, "tug-hostile-");
  const hostile = await startHostileCache(t);
  const { reference, counter } = await fill(root, hostile.url);
  // The cache sits at ROOT/cache-*, so blobs/sha256/../../../SECRET is ROOT/SECRET: a file the
  // attacker wants tug to take as a layer (and copy into the output), or to overwrite.
  const secret = join(root, "SECRET");
  await fs.writeFile(secret, SECRET_CONTENT);
  const traversal = "sha256:../../../SECRET";

  const descAsPath = forge("desc", (v) => ({ ...v, digest: traversal }));
  const diffAsPath = forge("diff", (v) => ({ ...v, digest: traversal }));
  const attacks: Array<[string, HostileCacheBehaviour["record"]]> = [
    // Both desc and diff forged, so no honest record routes around the forged digest.
    ["desc and diff digests are paths", (k, s) => descAsPath(k, s) ?? diffAsPath(k, s)],
    ["layer diffId is 63 hex", forge("layer", (v) => ({ ...v, diffId: `sha256:${"a".repeat(63)}` }))],
  ];
  let expectedRuns = 1;
  for (const [name, record] of attacks) {
    hostile.behaviour.record = record;
    const cache = join(root, `cache-${expectedRuns}`);
    const b = await checkout(root, `clone-${expectedRuns}`, counter);
    const r = await build(b, cache, hostile.url);
    assert.deepEqual(digests(r), reference, `${name}: same image, built locally`);
    assert.deepEqual(remoteWarnings(r).length, 1, `${name}: exactly one warning:\n${r.stderr}`);
    assert.match(remoteWarnings(r)[0] ?? "", /invalid digest/, name);
    assert.equal(await runs(counter), ++expectedRuns, `${name}: the builder ran locally`);
    assert.equal(await fs.readFile(secret, "utf8"), SECRET_CONTENT, `${name}: the file outside is untouched`);
    assert.deepEqual(
      await filesContaining(root, [cache, join(b, ".tug")], SECRET_CONTENT),
      [],
      `${name}: the file outside the cache was never taken as a blob`,
    );
    await assertBlobsVerify(cache);
  }
  assert.deepEqual(
    (await fs.readdir(root)).filter((n) => !/^(clone-|cache-|runs$|SECRET$)/.test(n)),
    [],
    "nothing written beside the caches",
  );
  assert.ok(
    !hostile.requests.some((r) => r.includes("..") || r.includes("SECRET")),
    "no request path made from a forged digest",
  );
});

test("a blob whose bytes do not match its name is never ingested; the build is local and says so once", async (t) => {
  const root = await tempDir(t, "tug-hostile-");
  const hostile = await startHostileCache(t);
  const { reference, counter } = await fill(root, hostile.url);
  hostile.behaviour.blob = (_hex, stored) => (stored ? Buffer.from("not the blob you asked for") : undefined);
  const cache = join(root, "cache-b");
  const r = await build(await checkout(root, "clone-b", counter), cache, hostile.url);
  assert.deepEqual(digests(r), reference);
  assert.equal(remoteWarnings(r).length, 1, r.stderr);
  assert.match(remoteWarnings(r)[0] ?? "", /do not match|bytes for/);
  await assertBlobsVerify(cache);
  assert.deepEqual(
    await filesContaining(root, [cache], "not the blob you asked for"),
    [],
    "the wrong bytes are nowhere in the cache, not even as a temp file",
  );
});

test("a record larger than 4 MiB is not read whole: ignored with one warning, built locally", async (t) => {
  const root = await tempDir(t, "tug-hostile-");
  const hostile = await startHostileCache(t);
  const { reference, counter } = await fill(root, hostile.url);
  const huge = Buffer.alloc(5 * 1024 * 1024, "{");
  hostile.behaviour.record = (_key, stored) => (stored ? huge : undefined);
  const r = await build(await checkout(root, "clone-b", counter), join(root, "cache-b"), hostile.url);
  assert.deepEqual(digests(r), reference);
  assert.equal(remoteWarnings(r).length, 1, r.stderr);
  assert.match(remoteWarnings(r)[0] ?? "", /larger than any record/);
  assert.equal(await runs(counter), 2, "built locally");
});

test("a silent cache server with --http-timeout 2: one warning naming the server, and the build succeeds", async (t) => {
  const root = await tempDir(t, "tug-hostile-");
  const hostile = await startHostileCache(t, { silent: true });
  const counter = join(root, "runs");
  const r = await build(await checkout(root, "clone", counter), join(root, "cache"), hostile.url, {}, [
    "--http-timeout",
    "2",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const warnings = remoteWarnings(r);
  assert.equal(warnings.length, 1, r.stderr);
  assert.ok(warnings[0]?.includes(hostile.url), warnings[0]);
  // The limit is the flag's (2 s), not a built-in one.
  assert.match(warnings[0] ?? "", /stalled for 2000 ms|longer than 2000 ms/);
  assert.equal(await runs(counter), 1);
});

test("the cache's password and token appear in no output, message, record or file", async (t) => {
  const root = await tempDir(t, "tug-hostile-");
  const password = "s3cr3t-PASSWORD-e1d7";
  const token = "tok-SECRET-TOKEN-99c2";
  const honest = await startHostileCache(t);
  const refusing = await startHostileCache(t, { status: 401 });
  const counter = join(root, "runs");
  const withUser = (url: string) => url.replace("http://", `http://builder:${password}@`);
  const cases: Array<[string, string, NodeJS.ProcessEnv, number]> = [
    ["userinfo, honest server", withUser(honest.url), {}, 0],
    ["userinfo, 401", withUser(refusing.url), {}, 1],
    ["token, 401", refusing.url, { TUG_REMOTE_CACHE_TOKEN: token }, 1],
    ["token, honest server", honest.url, { TUG_REMOTE_CACHE_TOKEN: token }, 0],
  ];
  let n = 0;
  for (const [name, url, env, warnings] of cases) {
    const dir = await checkout(root, `clone-${++n}`, counter);
    const cache = join(root, `cache-${n}`);
    const r = await build(dir, cache, url, env);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.equal(remoteWarnings(r).length, warnings, `${name}: ${r.stderr}`);
    for (const secret of [password, token]) {
      assert.ok(
        !r.stdout.includes(secret) && !r.stderr.includes(secret),
        `${name}: output free of the secret`,
      );
      assert.deepEqual(await filesContaining(root, [cache, join(dir, ".tug")], secret), [], `${name}: files`);
    }
  }
  for (const server of [honest, refusing]) {
    for (const body of [...server.records.values(), ...server.blobs.values()]) {
      assert.ok(!body.includes(password) && !body.includes(token), "nothing uploaded carries a secret");
    }
  }
  // The credentials did go where they belong: the cache server's Authorization header.
  assert.ok(honest.headers.some((h) => h.authorization?.startsWith("Basic ")));
  assert.ok(honest.headers.some((h) => h.authorization === `Bearer ${token}`));
});

test("signed records (TUG_REMOTE_CACHE_KEY): a round trip hits with no builder run; unsigned, tampered and foreign-key records are ignored with one warning", async (t) => {
  const root = await tempDir(t, "tug-signed-");
  const dav = await startNginxDav(t);
  const key = "team-key-HMAC-4b1e0c";
  const signed = { TUG_REMOTE_CACHE_KEY: key };
  const { reference, counter } = await fill(root, dav.url, signed);
  const acFiles: string[] = [];
  for await (const f of filesUnder(join(dav.root, "ac"))) acFiles.push(f);
  assert.ok(acFiles.length > 0);
  for (const f of acFiles) assert.match(await fs.readFile(f, "utf8"), /^tug-hmac-sha256 [0-9a-f]{64}\n\{/);

  // Round trip: clone B with the same key and an empty cache runs no builder.
  const b = await build(await checkout(root, "clone-b", counter), join(root, "cache-b"), dav.url, signed);
  assert.deepEqual(digests(b), reference);
  assert.ok(cachedAll(b), b.stdout);
  assert.equal(remoteWarnings(b).length, 0, b.stderr);
  assert.equal(await runs(counter), 1, "no builder ran in clone B");

  // Another key: every record is badly signed for it. (Read-only, so the store keeps B's records.)
  const c = await build(await checkout(root, "clone-c", counter), join(root, "cache-c"), dav.url, {
    TUG_REMOTE_CACHE_KEY: "someone-elses-key",
    TUG_REMOTE_CACHE_MODE: "read",
  });
  assert.deepEqual(digests(c), reference);
  assert.equal(remoteWarnings(c).length, 1, c.stderr);
  assert.match(remoteWarnings(c)[0] ?? "", /unsigned or badly signed.*bad signature/);
  assert.equal(await runs(counter), 2, "clone C built locally");

  // Tampered: the records as B's key signed them, each value edited and re-checksummed (a forger
  // with write access to the store but not the key).
  for (const f of acFiles) {
    const env = readEnvelope(await fs.readFile(f));
    if (!env) continue;
    const sig = (await fs.readFile(f, "utf8")).split("\n")[0];
    const edited = { ...(env.value as object), mediaType: "application/vnd.oci.image.layer.v1.tar" };
    await fs.writeFile(f, `${sig}\n${forgedEnvelope(env.kind, edited, canonicalJson).toString()}`);
  }
  const d = await build(await checkout(root, "clone-d", counter), join(root, "cache-d"), dav.url, signed);
  assert.deepEqual(digests(d), reference);
  assert.equal(remoteWarnings(d).length, 1, d.stderr);
  assert.match(remoteWarnings(d)[0] ?? "", /badly signed/);
  assert.equal(await runs(counter), 3, "clone D built locally");

  // Unsigned: a store filled by a client without the key, read by one with it.
  const plain = await startNginxDav(t);
  const unsignedRoot = await tempDir(t, "tug-unsigned-");
  const filled = await fill(unsignedRoot, plain.url);
  const e = await build(
    await checkout(unsignedRoot, "clone-e", filled.counter),
    join(unsignedRoot, "cache-e"),
    plain.url,
    signed,
  );
  assert.deepEqual(digests(e), filled.reference);
  assert.equal(remoteWarnings(e).length, 1, e.stderr);
  assert.match(remoteWarnings(e)[0] ?? "", /TUG_REMOTE_CACHE_KEY is set.*unsigned/);
  assert.equal(await runs(filled.counter), 2, "clone E built locally");

  // The key is a secret: in no output, no cache, no record on the server.
  for (const r of [b, c, d, e]) assert.ok(!r.stdout.includes(key) && !r.stderr.includes(key));
  assert.deepEqual(await filesContaining(root, [root], key), []);
  assert.deepEqual(await filesContaining(dav.root, [dav.root], key), []);
});

test("a shared lock naming a local file as a wheel is ignored: the file is never read as a wheel nor uploaded", async (t) => {
  const root = await tempDir(t, "tug-hostile-lock-");
  const index = await buildFixtureIndex(join(root, "index"), [
    { name: "fakea", version: "1.0", tag: "py3-none-any" },
  ]);
  const served = await serveFixtureIndex(t, index.root);
  const hostile = await startHostileCache(t);
  const project = async (name: string) => {
    const dir = join(root, name);
    await fs.mkdir(join(dir, "fns"), { recursive: true });
    await fs.writeFile(
      join(dir, "tug.yaml"),
      `python:\n  index_url: ${served.simpleUrl}\nlambdas:\n  fn: { runtime: python3.12, handler: fns/fn.py:handler }\n`,
    );
    await fs.writeFile(join(dir, "requirements.txt"), "fakea\n");
    await fs.writeFile(
      join(dir, "fns", "fn.py"),
      "import fakea\n\n\ndef handler(event, context):\n    return 1\n",
    );
    return dir;
  };
  const env = (cache: string) => ({
    TUG_CACHE: cache,
    TUG_REMOTE_CACHE: hostile.url,
    PIP_CONFIG_FILE: "/dev/null",
    TUG_INDEX_URL: undefined,
    TUG_REMOTE_CACHE_KEY: undefined,
  });
  const a = await runTug(["build", "--json"], {
    cwd: await project("clone-a"),
    env: env(join(root, "cache-a")),
  });
  assert.equal(a.code, 0, a.stderr);
  const reference = (JSON.parse(a.stdout) as Report).artifacts[0]?.digest;

  // A private file of the user's, and locks that name it (by its true sha256) as every wheel.
  const secret = join(root, "id_rsa");
  await fs.writeFile(secret, SECRET_CONTENT);
  const secretSha = createHash("sha256").update(SECRET_CONTENT).digest("hex");
  hostile.behaviour.record = (_key, stored) => {
    const env = stored && readEnvelope(stored);
    if (env?.kind !== "python-lock" || typeof env.value !== "string") return undefined;
    const lock = JSON.parse(env.value) as { distributions: Array<Record<string, unknown>> };
    for (const d of lock.distributions) Object.assign(d, { url: `file://${secret}`, sha256: secretSha });
    return forgedEnvelope("python-lock", `${JSON.stringify(lock, null, 2)}\n`, canonicalJson);
  };
  served.log.length = 0;
  const b = await runTug(["build", "--json"], {
    cwd: await project("clone-b"),
    env: env(join(root, "cache-b")),
  });
  assert.equal(b.code, 0, b.stderr);
  assert.equal(
    (JSON.parse(b.stdout) as Report).artifacts[0]?.digest,
    reference,
    "the same zip, resolved locally",
  );
  assert.equal(remoteWarnings(b).length, 1, b.stderr);
  assert.ok(served.log.length > 0, "clone B asked the index itself");
  for (const body of hostile.blobs.values())
    assert.ok(!body.includes(SECRET_CONTENT), "the file was never uploaded");
  assert.deepEqual(
    await filesContaining(root, [join(root, "cache-b"), join(root, "clone-b", ".tug")], SECRET_CONTENT),
    [],
    "the file was never taken into the cache or a zip",
  );
});
