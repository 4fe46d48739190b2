// Issue #9, rules 1-3 for the Python index client: digests, links, redirects and metadata. Every
// attack is a real index on 127.0.0.1; each test asserts one clear error (or a safe success) and
// that nothing landed outside the cache.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import type { CacheStore } from "../../src/engine/cache-store.ts";
import { lockedResolution } from "../../src/python/locked-resolution.ts";
import { resolve } from "../../src/python/resolver.ts";
import { filesContaining, sendBytes, sendJson, startHostileIndex } from "../support/hostile-index-server.ts";
import { metadataText } from "./support/fixture-index.ts";
import {
  assertAbsent,
  clientFor,
  goodpkg,
  page,
  py312,
  rejection,
  setup,
  sha,
  WHEEL,
} from "./support/hostile-index-fixture.ts";

for (const [form, hash] of [
  ["a relative", "../../../canary/x.pth"],
  ["an absolute", "/tmp/CANARY-tug/x.pth"],
] as const) {
  test(`${form} path as hashes.sha256 in PEP 691 JSON: the file is unusable, nothing written outside the cache`, async (t) => {
    const s = await setup(t);
    const index = await startHostileIndex(t, (_req, res, path) => {
      if (path === "/simple/goodpkg/") {
        return sendJson(res, page([{ filename: WHEEL, url: `/files/${WHEEL}`, hashes: { sha256: hash } }]));
      }
      sendBytes(res, s.wheel);
    });
    const client = clientFor(s, [`${index.origin}/simple/`]);
    const err = await rejection(resolve({ requirements: goodpkg(), target: py312, index: client }));
    assert.match(
      err.what,
      /goodpkg-1\.0-py3-none-any\.whl cannot be used: its sha256 .* is not a sha256 digest/,
    );
    assert.match(err.where ?? "", /127\.0\.0\.1/);
    await assertAbsent(join(s.canary, "x.pth"));
    await assertAbsent("/tmp/CANARY-tug");
    assert.ok(!index.seen.some((r) => r.path.startsWith("/files/")), "an unusable file is never fetched");
  });
}

test("a path in an HTML #sha256= fragment: the file is unusable, nothing written outside the cache", async (t) => {
  const s = await setup(t);
  const index = await startHostileIndex(t, (_req, res, path) => {
    if (path === "/simple/goodpkg/") {
      res.writeHead(200, { "content-type": "text/html" });
      return void res.end(`<a href="/files/${WHEEL}#sha256=../../../canary/x.pth">${WHEEL}</a>`);
    }
    sendBytes(res, s.wheel);
  });
  const client = clientFor(s, [`${index.origin}/simple/`]);
  const err = await rejection(resolve({ requirements: goodpkg(), target: py312, index: client }));
  assert.match(
    err.what,
    /cannot be used: its sha256 "\.\.\/\.\.\/\.\.\/canary\/x\.pth" is not a sha256 digest/,
  );
  await assertAbsent(join(s.canary, "x.pth"));
});

test("a bad core-metadata sha256 makes the file unusable too", async (t) => {
  const s = await setup(t);
  const index = await startHostileIndex(t, (_req, res, path) => {
    if (path !== "/simple/goodpkg/") return sendBytes(res, s.wheel);
    sendJson(
      res,
      page([
        {
          filename: WHEEL,
          url: `/files/${WHEEL}`,
          hashes: { sha256: s.wheelSha },
          "core-metadata": { sha256: "../../../canary/m" },
        },
      ]),
    );
  });
  const err = await rejection(
    resolve({ requirements: goodpkg(), target: py312, index: clientFor(s, [`${index.origin}/simple/`]) }),
  );
  assert.match(err.what, /cannot be used: its metadata's sha256 .* is not a sha256 digest/);
  await assertAbsent(join(s.canary, "m"));
});

test("a file:///etc/passwd link on an http index is refused, never read", async (t) => {
  const s = await setup(t);
  const index = await startHostileIndex(t, (_req, res) => {
    sendJson(res, page([{ filename: WHEEL, url: "file:///etc/passwd", hashes: {} }]));
  });
  const client = clientFor(s, [`${index.origin}/simple/`]);
  const err = await rejection(resolve({ requirements: goodpkg(), target: py312, index: client }));
  assert.match(
    err.what,
    /cannot be used: its link is a file: URL; an http\(s\) index may link only http\(s\) files/,
  );
  assert.ok(!client.requests.some((u) => u.startsWith("file:")));
  assert.deepEqual(await filesContaining(s.cacheDir, "root:x:0:0"), []);
  // The wheel path asked directly (as a lock from a shared cache would) is refused as well.
  const direct = await rejection(client.wheelPath({ filename: WHEEL, url: "file:///etc/passwd" }));
  assert.match(direct.what, /only http and https URLs/);
});

test("a redirect to another host is refused for a file without a hash, followed and verified with one", async (t) => {
  const s = await setup(t);
  const cdn = await startHostileIndex(t, (_req, res) => sendBytes(res, s.wheel));
  let hashed = false;
  const index = await startHostileIndex(t, (_req, res, path) => {
    if (path === "/simple/goodpkg/") {
      const file = { filename: WHEEL, url: `/files/${WHEEL}`, hashes: hashed ? { sha256: s.wheelSha } : {} };
      return sendJson(res, page([file]));
    }
    res.writeHead(302, { location: `${cdn.origin}/elsewhere/${WHEEL}` }).end();
  });
  const unhashed = clientFor(s, [`${index.origin}/simple/`]);
  const err = await rejection(resolve({ requirements: goodpkg(), target: py312, index: unhashed }));
  assert.match(
    err.what,
    /cannot fetch wheel goodpkg-1\.0-py3-none-any\.whl from 127\.0\.0\.1:\d+: refused a redirect to another host/,
  );
  assert.equal(cdn.seen.length, 0);

  hashed = true;
  const withHash = clientFor(s, [`${index.origin}/simple/`]);
  const resolution = await resolve({ requirements: goodpkg(), target: py312, index: withHash });
  assert.equal(resolution.distributions[0]?.sha256, s.wheelSha);
  const path = await withHash.wheelPath({
    filename: WHEEL,
    url: `${index.origin}/files/${WHEEL}`,
    sha256: resolution.distributions[0]?.sha256,
  });
  assert.equal(sha(await readFile(path)), s.wheelSha);
});

test("PEP 658 metadata that does not match its advertised sha256 is refused", async (t) => {
  const s = await setup(t);
  const evil = "Metadata-Version: 2.1\nName: goodpkg\nVersion: 1.0\nRequires-Dist: evilpkg\n";
  const index = await startHostileIndex(t, (_req, res, path) => {
    if (path === "/simple/goodpkg/") {
      const honest = sha(metadataText({ name: "goodpkg", version: "1.0", tag: "py3-none-any" }));
      const file = { filename: WHEEL, url: `/files/${WHEEL}`, hashes: { sha256: s.wheelSha } };
      return sendJson(res, page([{ ...file, "core-metadata": { sha256: honest } }]));
    }
    if (path.endsWith(".metadata")) return sendBytes(res, Buffer.from(evil));
    sendBytes(res, s.wheel);
  });
  const err = await rejection(
    resolve({ requirements: goodpkg(), target: py312, index: clientFor(s, [`${index.origin}/simple/`]) }),
  );
  assert.match(err.what, /metadata of goodpkg-1\.0-py3-none-any\.whl does not match the index's sha256/);
  assert.deepEqual(await filesContaining(s.cacheDir, "evilpkg"), [], "unverified metadata is not cached");
});

test("one index's metadata for a file name never answers for another index", async (t) => {
  const s = await setup(t);
  const evil = "Metadata-Version: 2.1\nName: goodpkg\nVersion: 1.0\nRequires-Dist: evilpkg\n";
  // Index A: the same wheel (same sha256), with PEP 658 metadata that adds a dependency, hashed honestly.
  const a = await startHostileIndex(t, (_req, res, path) => {
    if (path === "/simple/goodpkg/") {
      const file = { filename: WHEEL, url: `/files/${WHEEL}`, hashes: { sha256: s.wheelSha } };
      return sendJson(res, page([{ ...file, "core-metadata": { sha256: sha(evil) } }]));
    }
    if (path === "/simple/evilpkg/") return res.writeHead(404).end();
    if (path.endsWith(".metadata")) return sendBytes(res, Buffer.from(evil));
    sendBytes(res, s.wheel);
  });
  // Index B: the same file name and wheel, no PEP 658: its METADATA is the wheel's own.
  const b = await startHostileIndex(t, (_req, res, path) => {
    if (path === "/simple/goodpkg/") {
      return sendJson(
        res,
        page([{ filename: WHEEL, url: `/files/${WHEEL}`, hashes: { sha256: s.wheelSha } }]),
      );
    }
    sendBytes(res, s.wheel);
  });
  const fromA = await rejection(
    resolve({ requirements: goodpkg(), target: py312, index: clientFor(s, [`${a.origin}/simple/`]) }),
  );
  assert.match(fromA.what, /unknown distribution evilpkg/);
  // Same cache, other index: B's own metadata, so no evilpkg.
  const fromB = await resolve({
    requirements: goodpkg(),
    target: py312,
    index: clientFor(s, [`${b.origin}/simple/`]),
  });
  assert.deepEqual(
    fromB.distributions.map((d) => d.name),
    ["goodpkg"],
  );
});

test("a METADATA whose Name or Version disagrees with the wheel's file name is refused", async (t) => {
  const s = await setup(t);
  for (const [name, version] of [
    ["otherpkg", "1.0"],
    ["goodpkg", "2.0"],
  ]) {
    const lie = `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n`;
    const index = await startHostileIndex(t, (_req, res, path) => {
      if (path === "/simple/goodpkg/") {
        const file = { filename: WHEEL, url: `/files/${WHEEL}`, hashes: { sha256: s.wheelSha } };
        return sendJson(res, page([{ ...file, "core-metadata": { sha256: sha(lie) } }]));
      }
      if (path.endsWith(".metadata")) return sendBytes(res, Buffer.from(lie));
      sendBytes(res, s.wheel);
    });
    const err = await rejection(
      resolve({ requirements: goodpkg(), target: py312, index: clientFor(s, [`${index.origin}/simple/`]) }),
    );
    assert.match(
      err.what,
      new RegExp(
        `the METADATA of goodpkg-1\\.0-py3-none-any\\.whl is for ${name} ${version}, not goodpkg 1\\.0`,
      ),
    );
  }
  // 1.0 and 1.0.0 are the same version (PEP 440), and names compare normalised: accepted.
  const same = "Metadata-Version: 2.1\nName: GoodPkg\nVersion: 1.0.0\n";
  const index = await startHostileIndex(t, (_req, res, path) => {
    if (path === "/simple/goodpkg/") {
      const file = { filename: WHEEL, url: `/files/${WHEEL}`, hashes: { sha256: s.wheelSha } };
      return sendJson(res, page([{ ...file, "core-metadata": { sha256: sha(same) } }]));
    }
    if (path.endsWith(".metadata")) return sendBytes(res, Buffer.from(same));
    sendBytes(res, s.wheel);
  });
  const ok = await resolve({
    requirements: goodpkg(),
    target: py312,
    index: clientFor(s, [`${index.origin}/simple/`]),
  });
  assert.equal(ok.distributions[0]?.version, "1.0");
});

test("a lock from the (shared) cache whose sha256 is a path is ignored and resolved again", async (t) => {
  const s = await setup(t);
  const index = await startHostileIndex(t, (_req, res, path) => {
    if (path === "/simple/goodpkg/") {
      return sendJson(
        res,
        page([{ filename: WHEEL, url: `/files/${WHEEL}`, hashes: { sha256: s.wheelSha } }]),
      );
    }
    sendBytes(res, s.wheel);
  });
  const hostile = (sha256: string, url: string) =>
    JSON.stringify({
      version: 1,
      target: { runtime: "python3.12", arch: "x86_64", glibc: "2.26" },
      distributions: [{ name: "goodpkg", version: "1.0", wheel: WHEEL, sha256, url, requiredBy: ["x"] }],
    });
  for (const lock of [
    hostile("../../../canary/x.pth", `${index.origin}/files/${WHEEL}`),
    hostile(s.wheelSha, "file:///etc/passwd"),
    hostile(s.wheelSha, `http://u:p@127.0.0.1:${index.port}/files/${WHEEL}`),
  ]) {
    const put: string[] = [];
    const store = {
      getRecord: async () => lock,
      putRecord: async (_kind: string, _key: string, value: string) => void put.push(value),
    } as unknown as CacheStore;
    const client = clientFor(s, [`${index.origin}/simple/`]);
    const got = await lockedResolution({
      requirements: goodpkg(),
      source: { pins: new Map(), hashes: new Map(), constraints: [] },
      target: py312,
      ctx: { indexUrls: [`${index.origin}/simple/`], index: client, store },
    });
    assert.equal(got.fromLock, undefined, lock);
    assert.equal(got.distributions[0]?.sha256, s.wheelSha);
    assert.equal(put.length, 1, "the bad lock is replaced");
    assert.ok(client.requests.length > 0);
  }
  await assertAbsent(join(s.canary, "x.pth"));
});
