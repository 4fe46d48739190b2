// cosign-compatible signatures: `tug build --sign-key` stores the simple-signing payload of the
// pushed digest at `sha256-<hex>.sig` in Debian's docker-registry; openssl (an independent
// verifier) checks the signature over the exact payload bytes fetched with skopeo and curl, and
// `tug verify` accepts it, and rejects a wrong key, a tampered payload and a payload for another image.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { parseReference } from "../../src/oci/reference.ts";
import { RegistryClient } from "../../src/oci/registry/client.ts";
import { MediaType } from "../../src/oci/types.ts";
import { runTug, runTugJson } from "../support/cli.ts";
import { type RunningRegistry, startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool, skopeoInspectRaw } from "../support/tools.ts";

const SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json";
const SIGNATURE = "dev.cosignproject.cosign/signature";

interface Report {
  artifacts: Array<{ target: string; digest: string; pushedBytes: number }>;
}

async function project(t: TestContext): Promise<string> {
  const dir = await tempDir(t, "tug-sign-");
  await mkdir(join(dir, "public"));
  await writeFile(join(dir, "public", "index.html"), "<h1>signed</h1>\n");
  await writeFile(
    join(dir, "tug.yaml"),
    "images:\n  site: { builder: files, context: ./public, dest: /srv/www }\n",
  );
  return dir;
}

async function blobBytes(registry: RunningRegistry, repository: string, digest: string): Promise<Buffer> {
  const res = await fetch(`${registry.url}/v2/${repository}/blobs/${digest}`);
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

test("a signed image: openssl verifies the payload tug pushed, tug verify accepts only the right key and payload", async (t) => {
  const registry = await startRegistry(t);
  const dir = await project(t);
  const cache = await tempDir(t, "tug-sign-cache-");
  const env = { TUG_CACHE: cache, TUG_SIGN_PASSWORD: "", COSIGN_PASSWORD: "" };

  const keygen = await runTug(["keygen"], { cwd: dir, env });
  assert.equal(keygen.code, 0, keygen.stderr);
  assert.equal((await stat(join(dir, "cosign.key"))).mode & 0o777, 0o600);
  const privatePem = await readFile(join(dir, "cosign.key"), "utf8");
  assert.match(privatePem, /^-----BEGIN PRIVATE KEY-----/);
  assert.ok(!keygen.stderr.includes(privatePem.split("\n")[1] as string), "the key is not printed");
  // keygen never replaces a key.
  const again = await runTug(["keygen"], { cwd: dir, env });
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /exists already/);
  assert.equal(await readFile(join(dir, "cosign.key"), "utf8"), privatePem);

  const repo = registry.repo("demo");
  const built = await runTugJson<Report>(["build", "--repo", repo, "--sign-key", "cosign.key"], {
    cwd: dir,
    env,
  });
  const digest = built.artifacts[0]?.digest as string;
  const hex = digest.slice("sha256:".length);
  const repository = "demo/site";

  // The signature manifest, read back by skopeo.
  const sig = await skopeoInspectRaw(`docker://${registry.repo(repository)}:sha256-${hex}.sig`);
  assert.equal(sig.layers?.length, 1);
  const layer = sig.layers?.[0] as {
    mediaType: string;
    digest: string;
    annotations?: Record<string, string>;
  };
  assert.equal(layer.mediaType, SIMPLE_SIGNING);
  const payload = await blobBytes(registry, repository, layer.digest);
  assert.equal(`sha256:${createHash("sha256").update(payload).digest("hex")}`, layer.digest);
  assert.deepEqual(JSON.parse(payload.toString()), {
    critical: {
      identity: { "docker-reference": registry.repo(repository) },
      image: { "docker-manifest-digest": digest },
      type: "cosign container image signature",
    },
    optional: null,
  });

  // openssl, over the exact bytes the registry serves.
  const work = await tempDir(t, "tug-sign-openssl-");
  await writeFile(join(work, "payload"), payload);
  await writeFile(join(work, "sig.der"), Buffer.from(layer.annotations?.[SIGNATURE] as string, "base64"));
  const ok = await runTool("openssl", [
    "dgst",
    "-sha256",
    "-verify",
    join(dir, "cosign.pub"),
    "-signature",
    join(work, "sig.der"),
    join(work, "payload"),
  ]);
  assert.match(ok.stdout, /Verified OK/);

  // tug verify: by tag, with the SBOM referrer checked against the same digest.
  const verified = await runTugJson<{
    digest: string;
    signatures: number;
    referrers: Array<{ subject: string; artifactType: string }>;
  }>(["verify", `${registry.repo(repository)}:latest`, "--key", "cosign.pub"], { cwd: dir, env });
  assert.equal(verified.digest, digest);
  assert.equal(verified.signatures, 1);
  assert.deepEqual(
    verified.referrers.map((r) => [r.subject, r.artifactType]),
    [[digest, "application/spdx+json"]],
  );

  // A no-op build signs nothing again (the same key's signature over the same payload is there).
  const noop = await runTugJson<Report>(["build", "--repo", repo, "--sign-key", "cosign.key"], {
    cwd: dir,
    env,
  });
  assert.equal(noop.artifacts[0]?.pushedBytes, 0);
  assert.equal(
    (await skopeoInspectRaw(`docker://${registry.repo(repository)}:sha256-${hex}.sig`)).layers?.length,
    1,
  );

  // Another key fails.
  await mkdir(join(dir, "other"));
  assert.equal((await runTug(["keygen", "--output-key-prefix", "other/cosign"], { cwd: dir, env })).code, 0);
  const wrongKey = await runTug(
    ["verify", `${registry.repo(repository)}:latest`, "--key", "other/cosign.pub"],
    { cwd: dir, env },
  );
  assert.notEqual(wrongKey.code, 0);
  assert.match(wrongKey.stderr, /no signature of .* verifies with other\/cosign\.pub/);
  assert.match(wrongKey.stderr, /does not verify/);

  // A tampered payload under the original signature fails.
  const client = new RegistryClient({});
  t.after(() => client.close());
  const repoRef = parseReference(registry.repo(repository));
  const putSig = async (body: Buffer, signature: string) => {
    const d = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    const up = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: "POST" });
    const location = new URL(up.headers.get("location") as string, registry.url);
    location.searchParams.set("digest", d);
    assert.equal((await fetch(location, { method: "PUT", body: new Uint8Array(body) })).status, 201);
    const manifest = {
      ...sig,
      layers: [
        { mediaType: SIMPLE_SIGNING, digest: d, size: body.length, annotations: { [SIGNATURE]: signature } },
      ],
    };
    await client.putManifest(
      repoRef,
      `sha256-${hex}.sig`,
      Buffer.from(JSON.stringify(manifest)),
      MediaType.ociManifest,
    );
  };
  const tampered = Buffer.from(
    payload.toString().replace("cosign container image signature", "cosign container image signaturE"),
  );
  await putSig(tampered, layer.annotations?.[SIGNATURE] as string);
  const bad = await runTug(["verify", `${registry.repo(repository)}:latest`, "--key", "cosign.pub"], {
    cwd: dir,
    env,
  });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /does not verify with cosign\.pub/);

  // A genuine signature over a payload that names another image fails too.
  const otherDigest = `sha256:${"0".repeat(64)}`;
  const otherPayload = Buffer.from(payload.toString().replace(digest, otherDigest));
  await writeFile(join(work, "other-payload"), otherPayload);
  const otherSig = join(work, "other-sig.der");
  await runTool("openssl", [
    "dgst",
    "-sha256",
    "-sign",
    join(dir, "cosign.key"),
    "-out",
    otherSig,
    join(work, "other-payload"),
  ]);
  await putSig(otherPayload, (await readFile(otherSig)).toString("base64"));
  const moved = await runTug(["verify", `${registry.repo(repository)}:latest`, "--key", "cosign.pub"], {
    cwd: dir,
    env,
  });
  assert.notEqual(moved.code, 0);
  assert.match(moved.stderr, new RegExp(`names ${otherDigest}, not ${digest}`));
});
