// HTTPS registries: Debian's docker-registry serving a certificate openssl made for the test, tug
// trusting it only through NODE_EXTRA_CA_CERTS, and skopeo verifying the same certificate.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { type Base, makeBusyboxBase } from "../support/bases.ts";
import { type CliResult, runTug } from "../support/cli.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";
import { selfSignedCert, type TlsFiles } from "../support/tls.ts";
import { tempDir } from "../support/tmp.ts";
import { type RawManifest, skopeoCopy, skopeoInspectRaw, umociUnpack } from "../support/tools.ts";

// Loopback, so tug gzips at level 1, yet not 127.0.0.1, so tug speaks HTTPS to it.
const LOOPBACK_TLS_HOST = "127.0.0.2";

let busyboxBase: Promise<Base> | undefined;
const busybox = () => {
  busyboxBase ??= makeBusyboxBase();
  return busyboxBase;
};

/** A skopeo/containers cert dir: the CA (here the self-signed cert itself) as `*.crt`. */
async function certDir(t: TestContext, tls: TlsFiles): Promise<string> {
  const dir = await tempDir(t, "tug-certs-");
  await copyFile(tls.certPath, join(dir, "ca.crt"));
  return dir;
}

/** A files image (compressible text, so gzip levels give different bytes) on `base`. */
async function siteProject(t: TestContext, base: string) {
  const dir = await tempDir(t, "tug-tls-proj-");
  await mkdir(join(dir, "public"));
  const lines = Array.from({ length: 400 }, (_, i) => `<p>line ${i} of a page served from tug ${i % 7}</p>`);
  await writeFile(join(dir, "public", "index.html"), `${lines.join("\n")}\n`);
  await writeFile(
    join(dir, "tug.yaml"),
    `images:\n  site:\n    builder: files\n    context: ./public\n    dest: /srv/www\n    base: ${base}\n`,
  );
  return { dir, cache: await tempDir(t, "tug-tls-cache-") };
}

function build(
  p: { dir: string; cache: string },
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CliResult> {
  return runTug(["build", ...args, "--json"], { cwd: p.dir, env: { TUG_CACHE: p.cache, ...env } });
}

function digestOf(r: CliResult): string {
  assert.equal(r.code, 0, r.stderr);
  const digest = (JSON.parse(r.stdout) as { artifacts: Array<{ digest: string }> }).artifacts[0]?.digest;
  assert.ok(digest, r.stdout);
  return digest;
}

const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** A blob as the registry stored it on disk (distribution's filesystem layout). */
function storedBlob(registry: RunningRegistry, digest: string): Promise<Buffer> {
  const hex = digest.replace(/^sha256:/, "");
  return readFile(join(registry.storage, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data"));
}

/** The top (app) layer pushed for `ref`, read through skopeo verifying TLS with `certs`. */
async function appLayer(registry: RunningRegistry, ref: string, certs: string): Promise<Buffer> {
  const m: RawManifest = await skopeoInspectRaw(ref, { tlsVerify: true, extraArgs: ["--cert-dir", certs] });
  const top = m.layers?.at(-1);
  assert.ok(top, JSON.stringify(m));
  const blob = await storedBlob(registry, top.digest);
  assert.equal(sha256(blob), top.digest);
  return blob;
}

async function repositories(registry: RunningRegistry): Promise<string[]> {
  return readdir(join(registry.storage, "docker/registry/v2/repositories")).catch(() => []);
}

test("HTTPS registry with a trusted CA: tug pulls the base and pushes; skopeo verifies; loopback gzips at level 1", async (t) => {
  const tls = await selfSignedCert(t, LOOPBACK_TLS_HOST);
  const registry = await startRegistry(t, { host: LOOPBACK_TLS_HOST, tls });
  const certs = await certDir(t, tls);
  const base = `${registry.repo("base/busybox")}:1`;
  await skopeoCopy((await busybox()).ref, `docker://${base}`, {
    tlsVerify: true,
    extraArgs: ["--dest-cert-dir", certs],
  });

  const p = await siteProject(t, base);
  const digest = digestOf(
    await build(p, ["--repo", registry.repo("demo")], { NODE_EXTRA_CA_CERTS: tls.certPath }),
  );

  const ref = `docker://${registry.repo("demo/site")}:latest`;
  const raw = await skopeoInspectRaw(ref, { tlsVerify: true, extraArgs: ["--cert-dir", certs] });
  const baseManifest = await skopeoInspectRaw(`docker://${base}`, {
    tlsVerify: true,
    extraArgs: ["--cert-dir", certs],
  });
  assert.deepEqual(
    raw.layers?.slice(0, -1).map((l) => l.digest),
    baseManifest.layers?.map((l) => l.digest),
    "the base's layers, read from the HTTPS registry, come first",
  );
  const work = await tempDir(t, "tug-tls-unpack-");
  await skopeoCopy(ref, `oci:${join(work, "layout")}:latest`, {
    tlsVerify: true,
    extraArgs: ["--src-cert-dir", certs],
  });
  const rootfs = await umociUnpack(join(work, "layout"), "latest", join(work, "bundle"));
  assert.equal(
    await readFile(join(rootfs, "srv/www/index.html"), "utf8"),
    await readFile(join(p.dir, "public/index.html"), "utf8"),
  );
  const manifestDigest = sha256(await storedBlob(registry, digest));
  assert.equal(manifestDigest, digest, "the registry holds the manifest under the digest tug reported");

  const blob = await appLayer(registry, ref, certs);
  const tar = gunzipSync(blob);
  assert.deepEqual(blob, gzipSync(tar, { level: 1 }), "a loopback registry gets gzip level 1");
});

test("HTTPS registry whose certificate is untrusted, or trusted but for another address: refused, naming the registry and TLS, nothing pushed", async (t) => {
  // Issued for 127.0.0.3, served on 127.0.0.2: the chain check fails first, then the name check.
  const tls = await selfSignedCert(t, "127.0.0.3");
  const registry = await startRegistry(t, { host: LOOPBACK_TLS_HOST, tls });
  const p = await siteProject(t, "scratch");
  const host = `${LOOPBACK_TLS_HOST}:${registry.port}`.replace(/\./g, "\\.");

  const untrusted = await build(p, ["--repo", registry.repo("demo")], { NODE_EXTRA_CA_CERTS: undefined });
  assert.equal(untrusted.code, 1, untrusted.stderr);
  assert.match(
    untrusted.stderr,
    new RegExp(`TLS handshake with registry ${host} failed \\(DEPTH_ZERO_SELF_SIGNED_CERT\\)`),
  );
  assert.match(
    untrusted.stderr,
    /trust it with NODE_EXTRA_CA_CERTS/,
    "the hint says how to trust the certificate",
  );
  assert.doesNotMatch(untrusted.stderr, /\n\s+at /, "no stack trace");

  const misnamed = await build(p, ["--repo", registry.repo("demo")], { NODE_EXTRA_CA_CERTS: tls.certPath });
  assert.equal(misnamed.code, 1, misnamed.stderr);
  assert.match(
    misnamed.stderr,
    new RegExp(`TLS handshake with registry ${host} failed \\(ERR_TLS_CERT_ALTNAME_INVALID\\)`),
  );
  assert.match(misnamed.stderr, /its certificate does not name 127\.0\.0\.2/);
  assert.deepEqual(await repositories(registry), []);
});

test("--insecure-registry: plain HTTP to a non-127.0.0.1 registry only when listed; it never skips TLS checks", async (t) => {
  const plain = await startRegistry(t, { host: LOOPBACK_TLS_HOST });
  const p = await siteProject(t, "scratch");
  const host = `${LOOPBACK_TLS_HOST}:${plain.port}`;

  const refused = await build(p, ["--repo", plain.repo("demo")]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, new RegExp(`registry ${host.replace(/\./g, "\\.")}`));
  assert.match(refused.stderr, new RegExp(`--insecure-registry ${host.replace(/\./g, "\\.")}`));
  assert.deepEqual(await repositories(plain), []);

  const digest = digestOf(await build(p, ["--repo", plain.repo("demo"), "--insecure-registry", host]));
  const raw = await skopeoInspectRaw(`docker://${plain.repo("demo/site")}:latest`, { tlsVerify: false });
  assert.equal(raw.layers?.length, 1);
  assert.equal(sha256(await storedBlob(plain, digest)), digest);

  // Listing an HTTPS registry whose certificate is untrusted does not make tug accept it.
  const tls = await selfSignedCert(t, LOOPBACK_TLS_HOST);
  const secure = await startRegistry(t, { host: LOOPBACK_TLS_HOST, tls });
  const secureHost = `${LOOPBACK_TLS_HOST}:${secure.port}`;
  const r = await build(p, ["--repo", secure.repo("demo"), "--insecure-registry", secureHost]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`${secureHost.replace(/\./g, "\\.")} does not look like an OCI registry`),
  );
  assert.match(r.stderr, /if it serves HTTPS, drop it from --insecure-registry/);
  assert.deepEqual(await repositories(secure), []);
});

/** This machine's first non-loopback IPv4 address: a registry there is "remote" to tug. */
function externalIPv4(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  throw new Error("no non-loopback IPv4 interface here; the gzip-level test needs one (ip -4 addr)");
}

test("a non-loopback HTTPS registry gets layers gzipped at level 6", async (t) => {
  const ip = externalIPv4();
  const tls = await selfSignedCert(t, ip);
  const registry = await startRegistry(t, { host: ip, tls });
  const certs = await certDir(t, tls);
  const p = await siteProject(t, "scratch");
  digestOf(await build(p, ["--repo", registry.repo("demo")], { NODE_EXTRA_CA_CERTS: tls.certPath }));

  const blob = await appLayer(registry, `docker://${registry.repo("demo/site")}:latest`, certs);
  const tar = gunzipSync(blob);
  // Under 32 KiB of text: one gzip member (see src/oci/compress.ts), so zlib at the level tug
  // claims reproduces the bytes, and level 1 (the loopback default) does not.
  assert.ok(tar.length < 32 * 1024, `${tar.length}`);
  assert.deepEqual(blob, gzipSync(tar, { level: 6 }));
  assert.notDeepEqual(blob, gzipSync(tar, { level: 1 }));
});
