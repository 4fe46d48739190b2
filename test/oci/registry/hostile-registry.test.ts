// Registries, token servers and layouts that lie, through the real CLI. Every attack ends in a
// non-zero exit with exactly one clear error (or a safe success), writes nothing outside the
// cache and .tug, and leaves no credential in output, cache or layout.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type TestContext, test } from "node:test";
import { type CliResult, runTug } from "../../support/cli.ts";
import {
  endless,
  honestImage,
  selfSignedCert,
  startHostileRegistry,
  startHostileServer,
} from "../../support/hostile-registry-server.ts";
import { tempDir } from "../../support/tmp.ts";

const ESCAPE = "canary-escape";
const TRAVERSAL = `sha256:../../../../../${ESCAPE}`;
const PASSWORD = "hunter2-registry-secret-7f3a";

interface Fixture {
  root: string;
  dir: string;
  cache: string;
  dockerConfig: string;
}

async function fixture(t: TestContext, base: string): Promise<Fixture> {
  const root = await tempDir(t, "tug-hostile-reg-");
  const dir = join(root, "project");
  const cache = join(root, "cache");
  const dockerConfig = join(root, "docker");
  await mkdir(dir);
  await mkdir(dockerConfig);
  await writeFile(join(dockerConfig, "config.json"), "{}");
  await writeFile(join(dir, "hello.txt"), "hello\n");
  await writeFile(
    join(dir, "tug.yaml"),
    `images:\n  app:\n    builder: files\n    context: .\n    dest: /srv\n    base: "${base}"\n`,
  );
  return { root, dir, cache, dockerConfig };
}

/** Stores `user:PASSWORD` for `registry` in the fixture's docker config. */
async function login(f: Fixture, registry: string): Promise<void> {
  const auth = Buffer.from(`tug-user:${PASSWORD}`).toString("base64");
  await writeFile(join(f.dockerConfig, "config.json"), JSON.stringify({ auths: { [registry]: { auth } } }));
}

function tug(f: Fixture, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runTug(["build", ...args], {
    cwd: f.dir,
    env: { TUG_CACHE: f.cache, DOCKER_CONFIG: f.dockerConfig, TUG_REPO: "", ...env },
  });
}

function assertOneError(t: TestContext, r: CliResult, what: RegExp): void {
  t.diagnostic(r.stderr.trimEnd());
  const ctx = `exit ${r.code}\nstderr:\n${r.stderr}`;
  assert.notEqual(r.code, 0, ctx);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error: "));
  assert.equal(errors.length, 1, ctx);
  assert.match(r.stderr, what, ctx);
  assert.doesNotMatch(r.stderr, /^\s+at .+[:(]/m, `stack trace printed\n${ctx}`);
  assert.doesNotMatch(r.stderr, /internal error/, ctx);
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/** No file named by a traversal digest, anywhere a blob path could have led, and none under root. */
async function assertNothingEscaped(f: Fixture): Promise<void> {
  const blobDirs = [join(f.cache, "blobs", "sha256"), join(f.dir, ".tug", "out", "oci", "blobs", "sha256")];
  for (const d of blobDirs) {
    const target = resolve(d, TRAVERSAL.slice("sha256:".length));
    await assert.rejects(stat(target), { code: "ENOENT" }, `${target} was written`);
  }
  const named = (await filesUnder(f.root)).filter((p) => p.includes(ESCAPE));
  assert.deepEqual(named, []);
}

/** The password appears in no output and no file under the cache, the project or the docker config's siblings. */
async function assertNoSecret(f: Fixture, r: CliResult): Promise<void> {
  assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD), "password printed");
  const b64 = Buffer.from(`tug-user:${PASSWORD}`).toString("base64");
  for (const file of [...(await filesUnder(f.cache)), ...(await filesUnder(f.dir))]) {
    const text = await readFile(file, "latin1");
    assert.ok(!text.includes(PASSWORD) && !text.includes(b64), `secret written to ${file}`);
  }
}

test("Docker-Content-Digest with a path (sha256:../../x) is refused before it names a file", async (t) => {
  const reg = await startHostileRegistry(t, {
    handle: (req, res) => {
      if (!/\/manifests\//.test(req.url ?? "")) return false;
      res.writeHead(200, {
        "content-type": "application/vnd.oci.image.manifest.v1+json",
        "docker-content-digest": TRAVERSAL,
      });
      res.end(req.method === "HEAD" ? undefined : "{}");
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f);
  assertOneError(t, r, /not a sha256 digest: ".*canary-escape"[\s\S]*Docker-Content-Digest/);
  await assertNothingEscaped(f);
});

test("a manifest whose layer descriptor digest is a path is refused", async (t) => {
  const image = await honestImage({
    manifest: (m) => {
      (m.layers as Array<{ digest: string }>)[0]!.digest = TRAVERSAL;
    },
  });
  const reg = await startHostileRegistry(t, { image });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f);
  assertOneError(t, r, /not a sha256 digest[\s\S]*layers\[0\]/);
  await assertNothingEscaped(f);
  assert.ok(!reg.requests.some((q) => q.url.includes(ESCAPE)), "a URL path was built from the bad digest");
});

test("a sha512 config digest: unsupported digest algorithm", async (t) => {
  const image = await honestImage({
    manifest: (m) => {
      (m.config as { digest: string }).digest = `sha512:${"ab".repeat(64)}`;
    },
  });
  const reg = await startHostileRegistry(t, { image });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f);
  assertOneError(t, r, /unsupported digest algorithm "sha512"/);
  await assertNothingEscaped(f);
});

test("a manifest that does not match the digest it was asked for is refused", async (t) => {
  const image = await honestImage();
  const other = await honestImage({ config: (c) => Object.assign(c, { os: "linux", extra: "swapped" }) });
  const reg = await startHostileRegistry(t, {
    image,
    handle: (req, res) => {
      if (!/\/manifests\//.test(req.url ?? "")) return false;
      // The pinned digest is asked for; another image's manifest comes back (with the header lying too).
      res.writeHead(200, {
        "content-type": "application/vnd.oci.image.manifest.v1+json",
        "docker-content-digest": image.manifestDigest,
      });
      res.end(req.method === "HEAD" ? undefined : other.manifest);
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base@${image.manifestDigest}`);
  const r = await tug(f);
  assertOneError(t, r, /manifest sha256:[0-9a-f]{64} does not match its digest/);
  assert.equal(await stat(join(f.dir, ".tug", "out")).catch(() => undefined), undefined);
});

test("a 5 MiB manifest is refused by its Content-Length", async (t) => {
  const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
  const reg = await startHostileRegistry(t, {
    handle: (req, res) => {
      if (!/\/manifests\//.test(req.url ?? "")) return false;
      res.writeHead(200, {
        "content-type": "application/vnd.oci.image.manifest.v1+json",
        "content-length": big.length,
      });
      res.end(req.method === "HEAD" ? undefined : big);
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f);
  assertOneError(t, r, /manifest base:1 is too large: 5 MiB, tug accepts at most 4 MiB/);
});

test("an endless manifest without Content-Length is cut off at 4 MiB", async (t) => {
  const reg = await startHostileRegistry(t, {
    handle: (req, res) => {
      if (!/\/manifests\//.test(req.url ?? "")) return false;
      if (req.method === "HEAD") {
        res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" }).end();
        return true;
      }
      endless(
        res,
        { "content-type": "application/vnd.oci.image.manifest.v1+json" },
        Buffer.alloc(64 * 1024, 0x20),
      );
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f);
  assertOneError(t, r, /manifest base:1 is too large: more than 4 MiB/);
});

test("a lying Content-Length on a manifest (claims 100 bytes, streams more) is bounded and refused", async (t) => {
  const reg = await startHostileRegistry(t, {
    handle: (req, res) => {
      if (!/\/manifests\//.test(req.url ?? "") || req.method === "HEAD") return false;
      // Raw socket: the header says 100 bytes, the body never ends.
      const socket = res.socket!;
      socket.write(
        "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.oci.image.manifest.v1+json\r\ncontent-length: 100\r\n\r\n",
      );
      const chunk = Buffer.alloc(64 * 1024, 0x7b);
      const pump = () => {
        while (!socket.destroyed && socket.write(chunk)) {}
        if (!socket.destroyed) socket.once("drain", pump);
      };
      pump();
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f);
  // Exactly 100 bytes are read as the manifest (pinned by the HEAD's digest): one clear error.
  assertOneError(t, r, /manifest sha256:[0-9a-f]{64} does not match its digest/);
});

test("an endless config is bounded by its descriptor size", async (t) => {
  const image = await honestImage();
  const reg = await startHostileRegistry(t, {
    image,
    handle: (req, res) => {
      if (!(req.url ?? "").endsWith(`/blobs/${image.configDigest}`)) return false;
      endless(res, {}, Buffer.alloc(64 * 1024, 0x20));
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f);
  assertOneError(
    t,
    r,
    new RegExp(
      `blob ${image.configDigest} does not match its digest.*more than ${image.config.length} bytes`,
    ),
  );
  await assertNothingEscaped(f);
});

test("a config descriptor claiming 9 MiB is refused before it is fetched", async (t) => {
  const image = await honestImage({
    manifest: (m) => {
      (m.config as { size: number }).size = 9 * 1024 * 1024;
    },
  });
  const reg = await startHostileRegistry(t, { image });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f);
  assertOneError(t, r, /the image config is too large: 9 MiB, tug accepts at most 8 MiB/);
  assert.ok(!reg.requests.some((q) => q.url.includes("/blobs/")), "the config was fetched");
});

test("a base whose rootfs.diff_ids count disagrees with its layers is refused", async (t) => {
  const image = await honestImage({
    config: (c) => {
      const rootfs = c.rootfs as { diff_ids: string[] };
      rootfs.diff_ids.push(`sha256:${"0".repeat(64)}`);
    },
  });
  const reg = await startHostileRegistry(t, { image });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f);
  assertOneError(t, r, /lists 2 diff_ids for 1 layers/);
  assert.equal(await stat(join(f.dir, ".tug", "out")).catch(() => undefined), undefined);
});

test("a base whose rootfs.type is not layers is refused", async (t) => {
  const image = await honestImage({
    config: (c) => Object.assign(c, { rootfs: { type: "squash", diff_ids: [] } }),
  });
  const reg = await startHostileRegistry(t, { image });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f);
  assertOneError(t, r, /rootfs\.type is "squash", not "layers"/);
});

test("a silent registry fails within --http-timeout, naming host and operation", async (t) => {
  const reg = await startHostileServer(t, {}, () => {
    // Accepts the request and never answers.
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f, ["--http-timeout", "2"]);
  assertOneError(
    t,
    r,
    new RegExp(`registry ${reg.host.replace(/\./g, "\\.")} timed out .*during check manifest base:1`),
  );
});

test("a manifest trickled a byte at a time ends at the --http-timeout deadline", async (t) => {
  const reg = await startHostileRegistry(t, {
    handle: (req, res) => {
      if (!/\/manifests\//.test(req.url ?? "") || req.method === "HEAD") return false;
      res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" });
      // Never idle long enough for the idle timeout; only the whole-response deadline ends it.
      const timer = setInterval(() => res.write(" "), 200);
      res.on("close", () => clearInterval(timer));
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f, ["--http-timeout", "2"]);
  assertOneError(
    t,
    r,
    /registry 127\.0\.0\.1:\d+ timed out \(TUG_DEADLINE\) during fetch manifest base@sha256:[0-9a-f]{64}/,
  );
});

test("a silent token server fails within --http-timeout, naming the registry and operation", async (t) => {
  const tokens = await startHostileServer(t, {}, () => {
    // Never answers.
  });
  const reg = await startHostileRegistry(t, {
    handle: (req, res) => {
      if (req.headers.authorization) return false;
      res
        .writeHead(401, { "www-authenticate": `Bearer realm="${tokens.url}/token",service="hostile"` })
        .end();
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f, ["--http-timeout", "2"]);
  assertOneError(
    t,
    r,
    /registry 127\.0\.0\.1:\d+ timed out \(TUG_HEADERS_TIMEOUT\) during check manifest base:1/,
  );
  assert.match(r.stderr, /where: .*\/token/);
});

test("an https registry whose token realm is plain http: refused, naming the realm, no credentials sent", async (t) => {
  const tls = await selfSignedCert(t, "127.0.0.2");
  const tokens = await startHostileServer(t, { address: "127.0.0.2" }, (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end('{"token":"stolen"}');
  });
  const reg = await startHostileRegistry(t, {
    address: "127.0.0.2",
    tls,
    handle: (req, res) => {
      if (req.headers.authorization) return false;
      res
        .writeHead(401, { "www-authenticate": `Bearer realm="${tokens.url}/token",service="hostile"` })
        .end();
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  await login(f, reg.host);
  const r = await tug(f, [], { NODE_EXTRA_CA_CERTS: tls.certPath });
  assertOneError(
    t,
    r,
    new RegExp(`refused token realm ${tokens.url.replace(/\./g, "\\.")}/token: registry .* is https`),
  );
  assert.equal(tokens.requests.length, 0, "the token server was contacted");
  await assertNoSecret(f, r);
});

test("credentials go over plain http only to hosts allowed with --insecure-registry", async (t) => {
  const tokens = await startHostileServer(t, { address: "127.0.0.3" }, (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end('{"token":"t0k3n-for-test"}');
  });
  const reg = await startHostileRegistry(t, {
    address: "127.0.0.2",
    handle: (req, res) => {
      if (req.headers.authorization === "Bearer t0k3n-for-test") return false;
      res
        .writeHead(401, { "www-authenticate": `Bearer realm="${tokens.url}/token",service="hostile"` })
        .end();
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  await login(f, reg.host);

  // The registry is allowed plain http, its realm's host is not: the password stays home.
  const refused = await tug(f, ["--insecure-registry", reg.host]);
  assertOneError(
    t,
    refused,
    /refused token realm http:\/\/127\.0\.0\.3:\d+\/token: credentials for .* are not sent over plain http/,
  );
  assert.equal(tokens.requests.length, 0);
  await assertNoSecret(f, refused);

  // Both allowed: the exchange happens and the build succeeds; the secret is still nowhere.
  const allowed = await tug(f, ["--insecure-registry", reg.host, "--insecure-registry", tokens.host]);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(
    tokens.requests.length > 0 && tokens.requests.every((q) => q.authorization?.startsWith("Basic ")),
    true,
  );
  await assertNoSecret(f, allowed);
});

test("an https registry's Basic challenge gets credentials over TLS; they appear nowhere", async (t) => {
  const tls = await selfSignedCert(t, "127.0.0.2");
  const expected = `Basic ${Buffer.from(`tug-user:${PASSWORD}`).toString("base64")}`;
  const reg = await startHostileRegistry(t, {
    address: "127.0.0.2",
    tls,
    handle: (req, res) => {
      if (req.headers.authorization === expected) return false;
      res.writeHead(401, { "www-authenticate": 'Basic realm="hostile"' }).end();
      return true;
    },
  });
  const f = await fixture(t, `${reg.host}/base:1`);
  await login(f, reg.host);
  const r = await tug(f, ["--json"], { NODE_EXTRA_CA_CERTS: tls.certPath });
  assert.equal(r.code, 0, r.stderr);
  await assertNoSecret(f, r);
});

test("a layout output blob edited after a build is detected and replaced; it never shares the cache's inode", async (t) => {
  const f = await fixture(t, "scratch");
  await writeFile(join(f.dir, "data.txt"), "payload ".repeat(1000));
  const first = await tug(f);
  assert.equal(first.code, 0, first.stderr);
  const layout = join(f.dir, ".tug", "out", "oci");
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as {
    manifests: Array<{ digest: string }>;
  };
  const manifest = JSON.parse(
    await readFile(join(layout, "blobs", "sha256", index.manifests[0]!.digest.slice(7)), "utf8"),
  ) as { layers: Array<{ digest: string }> };
  const hex = manifest.layers.at(-1)!.digest.slice(7);
  const outBlob = join(layout, "blobs", "sha256", hex);
  const cacheBlob = join(f.cache, "blobs", "sha256", hex);
  const [o, c] = await Promise.all([stat(outBlob), stat(cacheBlob)]);
  assert.notEqual(o.ino, c.ino, "the layout blob is the cache blob's inode");
  assert.equal(o.nlink, 1);
  assert.equal(c.nlink, 1);

  // Same size, different bytes, written in place: only its digest can tell.
  const cacheBefore = await readFile(cacheBlob);
  await writeFile(outBlob, Buffer.alloc(o.size, 0x41));
  const second = await tug(f);
  assert.equal(second.code, 0, second.stderr);
  const sha = createHash("sha256")
    .update(await readFile(outBlob))
    .digest("hex");
  assert.equal(sha, hex, "the tampered layout blob was not replaced");
  assert.deepEqual(await readFile(cacheBlob), cacheBefore, "the cache blob changed");
});
