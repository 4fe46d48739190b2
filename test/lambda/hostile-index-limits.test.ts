// Issue #9, rules 6 and 8 for the Python index client: an index that stalls, trickles or never
// stops talking ends with one error naming the host and what was fetched.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { simpleIndex } from "../../src/python/index-client.ts";
import { resolve } from "../../src/python/resolver.ts";
import { parseSha256Hex } from "../../src/util/sha256-hex.ts";
import { sendBytes, sendJson, startHostileIndex } from "../support/hostile-index-server.ts";
import {
  assertAbsent,
  clientFor,
  goodpkg,
  page,
  py312,
  rejection,
  setup,
  WHEEL,
  withShortTimeout,
} from "./support/hostile-index-fixture.ts";

test("a silent index (accepts, never answers) fails naming the host and what was fetched", async (t) => {
  const s = await setup(t);
  withShortTimeout(t, 1);
  const index = await startHostileIndex(t, () => {});
  const err = await rejection(clientFor(s, [`${index.origin}/simple/`]).projectFiles("goodpkg"));
  assert.match(
    err.what,
    new RegExp(
      `cannot fetch the index page of goodpkg from 127\\.0\\.0\\.1:${index.port}: (no answer|not finished within 1 s)`,
    ),
  );
});

test("a page trickled one byte at a time hits the deadline; a wheel that stalls mid-body hits the idle timeout", async (t) => {
  const s = await setup(t);
  withShortTimeout(t, 1);
  const index = await startHostileIndex(t, (req, res, path) => {
    if (path === "/simple/goodpkg/") {
      res.writeHead(200, { "content-type": "application/vnd.pypi.simple.v1+json" });
      const timer = setInterval(() => res.write(" "), 200);
      req.socket.on("close", () => clearInterval(timer));
      return;
    }
    res.writeHead(200, { "content-length": s.wheel.length });
    res.write(s.wheel.subarray(0, 100)); // then nothing
  });
  const client = clientFor(s, [`${index.origin}/simple/`]);
  const slow = await rejection(client.projectFiles("goodpkg"));
  assert.match(slow.what, /the index page of goodpkg .*not finished within 1 s/);
  const stalled = await rejection(
    client.wheelPath({
      filename: WHEEL,
      url: `${index.origin}/files/${WHEEL}`,
      sha256: parseSha256Hex(s.wheelSha, "test"),
    }),
  );
  assert.match(
    stalled.what,
    new RegExp(
      `cannot fetch wheel ${WHEEL.replace(/\./g, "\\.")} from 127\\.0\\.0\\.1:\\d+: no answer \\(idle\\)`,
    ),
  );
  await assertAbsent(join(s.wheelDir, s.wheelSha));
});

test("an endless index page ends with a size error, an announced huge one before any byte is read", async (t) => {
  const s = await setup(t);
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  const index = await startHostileIndex(t, (req, res, path) => {
    if (path === "/simple/announced/") {
      res.writeHead(200, { "content-type": "text/html", "content-length": 1024 * 1024 * 1024 });
      return void res.write("<html>");
    }
    res.writeHead(200, { "content-type": "text/html" });
    let open = true;
    req.socket.on("close", () => {
      open = false;
    });
    const pump = () => {
      while (open && res.write(chunk)) {}
      if (open) res.once("drain", pump);
    };
    pump();
  });
  const client = clientFor(s, [`${index.origin}/simple/`]);
  const endless = await rejection(client.projectFiles("goodpkg"));
  assert.match(endless.what, /the index page of goodpkg is larger than 32 MiB/);
  const announced = await rejection(client.projectFiles("announced"));
  assert.match(announced.what, /the index page of announced is larger than 32 MiB/);
});

test("a range answer larger than what was asked is cut off; METADATA then comes from the verified wheel", async (t) => {
  const s = await setup(t);
  const index = await startHostileIndex(t, (req, res, path) => {
    if (path === "/simple/goodpkg/") {
      return sendJson(
        res,
        page([{ filename: WHEEL, url: `/files/${WHEEL}`, hashes: { sha256: s.wheelSha } }]),
      );
    }
    if (req.headers.range) {
      res.writeHead(206, { "content-range": `bytes 0-99999999/100000000` });
      const timer = setInterval(() => res.write(Buffer.alloc(256 * 1024)), 1);
      req.socket.on("close", () => clearInterval(timer));
      return;
    }
    sendBytes(res, s.wheel);
  });
  const client = clientFor(s, [`${index.origin}/simple/`]);
  const resolution = await resolve({ requirements: goodpkg(), target: py312, index: client });
  assert.deepEqual(
    resolution.distributions.map((d) => `${d.name}==${d.version}`),
    ["goodpkg==1.0"],
  );
  assert.ok(
    index.seen.some((r) => r.path === `/files/${WHEEL}` && !r.range),
    "the wheel itself was downloaded",
  );
});

test("an endless wheel stops at the size cap: one error, no partial file left in the cache", async (t) => {
  const s = await setup(t);
  const chunk = Buffer.alloc(256 * 1024, 0x50);
  const index = await startHostileIndex(t, (req, res, path) => {
    if (path === "/files/announced.whl") {
      res.writeHead(200, { "content-length": 64 * 1024 * 1024 });
      return void res.write(chunk);
    }
    res.writeHead(200, { "content-type": "application/octet-stream" });
    let open = true;
    req.socket.on("close", () => {
      open = false;
    });
    const pump = () => {
      while (open && res.write(chunk)) {}
      if (open) res.once("drain", pump);
    };
    pump();
  });
  const client = simpleIndex({
    urls: [`${index.origin}/simple/`],
    cacheDir: join(s.cacheDir, "python"),
    wheelDir: s.wheelDir,
    env: {},
    maxWheelBytes: 4 * 1024 * 1024,
  });
  for (const [url, sha256] of [
    [`${index.origin}/files/${WHEEL}`, undefined],
    [`${index.origin}/files/${WHEEL}`, parseSha256Hex(s.wheelSha, "test")],
    [`${index.origin}/files/announced.whl`, undefined],
  ] as const) {
    const err = await rejection(client.wheelPath({ filename: WHEEL, url, ...(sha256 ? { sha256 } : {}) }));
    assert.match(err.what, /^wheel goodpkg-1\.0-py3-none-any\.whl is larger than 4 MiB$/);
  }
  assert.deepEqual(await readdir(s.wheelDir).catch(() => []), [], "no temp or partial wheel remains");
});
