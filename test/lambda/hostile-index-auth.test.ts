// Issue #9, rule 5 for the Python index client: logins from the index URL or ~/.netrc go to the
// index's own host only and never into a URL tug logs, keys or locks.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { resolve } from "../../src/python/resolver.ts";
import { filesContaining, sendBytes, startHostileIndex } from "../support/hostile-index-server.ts";
import {
  authorizedIndex,
  clientFor,
  goodpkg,
  py312,
  rejection,
  setup,
} from "./support/hostile-index-fixture.ts";

test("credentials in the index URL go to the index's own host only, and into no URL it logs or locks", async (t) => {
  const s = await setup(t);
  const basic = `Basic ${Buffer.from("alice:S3CRET-pw").toString("base64")}`;
  const cdn = await startHostileIndex(t, (_req, res) => sendBytes(res, s.wheel));
  const serve = authorizedIndex(s, basic);
  const index = await startHostileIndex(t, (req, res, path) => {
    if (path.startsWith("/files/"))
      return void res.writeHead(302, { location: `${cdn.origin}${path}` }).end();
    serve(req, res, path);
  });
  const client = clientFor(s, [`http://alice:S3CRET-pw@127.0.0.1:${index.port}/simple/`]);
  const resolution = await resolve({ requirements: goodpkg(), target: py312, index: client });
  const d = resolution.distributions[0];
  assert.ok(d);
  await client.wheelPath({ filename: d.wheel, url: d.url, sha256: d.sha256 });
  assert.ok(index.seen.every((r) => r.authorization === basic));
  assert.ok(
    cdn.seen.length > 0 && cdn.seen.every((r) => r.authorization === undefined),
    "not across a redirect",
  );
  assert.ok(!d.url.includes("S3CRET") && !d.url.includes("alice"));
  assert.ok(!client.requests.some((u) => u.includes("S3CRET")));
  assert.deepEqual(await filesContaining(s.cacheDir, "S3CRET"), []);
});

test("~/.netrc ($NETRC) logs in to an index host", async (t) => {
  const s = await setup(t);
  const netrc = join(s.root, "netrc");
  await writeFile(netrc, "machine 127.0.0.1\n  login bob\n  password netrc-S3CRET\n");
  const basic = `Basic ${Buffer.from("bob:netrc-S3CRET").toString("base64")}`;
  const index = await startHostileIndex(t, authorizedIndex(s, basic));
  const client = clientFor(s, [`${index.origin}/simple/`], { NETRC: netrc });
  const resolution = await resolve({ requirements: goodpkg(), target: py312, index: client });
  assert.equal(resolution.distributions[0]?.name, "goodpkg");
  assert.ok(index.seen.length > 0 && index.seen.every((r) => r.authorization === basic));
  // Without the netrc, the index says 401: one error naming the host and where a login comes from.
  const anonymous = clientFor(s, [`${index.origin}/simple/`], { NETRC: join(s.root, "none") });
  const err = await rejection(anonymous.projectFiles("goodpkg"));
  assert.match(
    err.what,
    /from 127\.0\.0\.1:\d+: HTTP 401 \(credentials: the index URL's user:password, or ~\/\.netrc\)/,
  );
});
