// Registries and layouts that lie, through the real CLI: digests, sizes, deadlines, rootfs and
// layout blobs. Every attack ends in a non-zero exit with exactly one clear error (or a safe
// success) and writes nothing outside the cache and .tug. Auth attacks: hostile-registry-auth.test.ts.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import {
  assertNothingEscaped,
  assertOneError,
  ESCAPE,
  fixture,
  TRAVERSAL,
  tug,
} from "../../support/hostile-registry-fixture.ts";
import {
  endless,
  honestImage,
  startHostileRegistry,
  startHostileServer,
} from "../../support/hostile-registry-server.ts";

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

test("a base layer whose bytes disagree with its diff_id is refused as it enters the cache", async (t) => {
  const wrong = `sha256:${"1".repeat(64)}`;
  const image = await honestImage({
    config: (c) => {
      (c.rootfs as { diff_ids: string[] }).diff_ids[0] = wrong;
    },
  });
  const reg = await startHostileRegistry(t, { image });
  const f = await fixture(t, `${reg.host}/base:1`);
  const r = await tug(f);
  assertOneError(
    t,
    r,
    new RegExp(
      `does not match its diff_id: the config says ${wrong}, its uncompressed bytes are ${image.diffId}`,
    ),
  );
  await assert.rejects(stat(join(f.cache, "blobs", "sha256", image.layerDigest.slice(7))), {
    code: "ENOENT",
  });
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
