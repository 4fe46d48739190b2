import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { TugError } from "../../src/errors.ts";
import { indexAuth, parseNetrc, withoutUserinfo } from "../../src/python/index-auth.ts";
import { metadataCachePath } from "../../src/python/index-client.ts";
import { parseHtmlPage, parseJsonPage } from "../../src/python/index-page.ts";
import { chooseIndexUrls, hasIndexLogin, indexUrlsForKeys } from "../../src/python/index-urls.ts";
import { checkMetadataIdentity } from "../../src/python/metadata-identity.ts";
import { parseSha256Hex } from "../../src/util/sha256-hex.ts";
import { tempDir } from "../support/tmp.ts";

const HEX = "ab".repeat(32);
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;

test("netrc: machines, default, macdef skipped, quoted tokens, first entry wins", () => {
  const parsed = parseNetrc(
    [
      "# comment",
      "machine pypi.example.com login alice password 's3cret'",
      "macdef init",
      "  machine evil.example login x password y",
      "",
      'machine Other.Example\n  login "bob smith"\n  password "p w"',
      "machine pypi.example.com login mallory password nope",
      "default login anon password anon-pw",
    ].join("\n"),
  );
  assert.deepEqual(parsed.machines.get("pypi.example.com"), { login: "alice", password: "'s3cret'" });
  assert.deepEqual(parsed.machines.get("other.example"), { login: "bob smith", password: "p w" });
  assert.equal(parsed.machines.has("evil.example"), false);
  assert.deepEqual(parsed.fallback, { login: "anon", password: "anon-pw" });
});

test("index auth: URL login first, then netrc; own origins only; never in clear text to another machine", async (t) => {
  const dir = await tempDir(t, "tug-netrc-");
  const netrc = join(dir, "netrc");
  await writeFile(
    netrc,
    "machine idx.example login n password np\nmachine plain.example login n password np\n",
  );
  const auth = indexAuth(
    [
      "https://u:p%40ss@private.example/simple",
      "https://idx.example/simple/",
      "http://plain.example/simple/",
    ],
    { NETRC: netrc },
  );
  assert.equal(auth.authorization(new URL("https://private.example/files/a.whl")), basic("u", "p@ss"));
  assert.equal(auth.authorization(new URL("https://idx.example/x")), basic("n", "np"));
  assert.equal(auth.authorization(new URL("https://cdn.example/x")), undefined, "not to a linked host");
  assert.equal(auth.authorization(new URL("http://plain.example/x")), undefined, "netrc not over plain http");
  const clear = indexAuth(["http://u:p@pypi.internal/simple/"], { NETRC: netrc });
  assert.throws(
    () => clear.authorization(new URL("http://pypi.internal/simple/a/")),
    (e: unknown) =>
      e instanceof TugError && /over plain http to pypi\.internal/.test(e.what) && !e.what.includes(":p@"),
  );
  const loopback = indexAuth(["http://u:p@127.0.0.1:8080/simple/"], { NETRC: netrc });
  assert.equal(loopback.authorization(new URL("http://127.0.0.1:8080/simple/a/")), basic("u", "p"));
});

test("index URLs: --index-url/index_url, TUG_INDEX_URL, PIP_INDEX_URL, UV_INDEX_URL, PyPI; pip/uv extras only without a tug index", () => {
  const pypi = "https://pypi.org/simple";
  const pick = (indexUrl: string | undefined, env: NodeJS.ProcessEnv, extras: string[] = []) =>
    chooseIndexUrls({ indexUrl, extraIndexUrls: extras, env, defaultUrl: pypi });
  const env = {
    TUG_INDEX_URL: "https://tug/simple",
    PIP_INDEX_URL: "https://pip/simple",
    UV_INDEX_URL: "https://uv/simple",
    PIP_EXTRA_INDEX_URL: "https://pip-x1/simple  https://pip-x2/simple",
    UV_EXTRA_INDEX_URL: "https://uv-x/simple",
  };
  assert.deepEqual(pick("https://yaml/simple", env, ["https://e/simple"]), [
    "https://yaml/simple",
    "https://e/simple",
  ]);
  assert.deepEqual(pick(undefined, env), ["https://tug/simple"]);
  assert.deepEqual(pick(undefined, { ...env, TUG_INDEX_URL: "" }), [
    "https://pip/simple",
    "https://pip-x1/simple",
    "https://pip-x2/simple",
    "https://uv-x/simple",
  ]);
  assert.deepEqual(pick(undefined, { UV_INDEX_URL: "https://uv/simple" }), ["https://uv/simple"]);
  assert.deepEqual(pick(undefined, {}, ["https://e/simple"]), [pypi, "https://e/simple"]);
});

test("keys and records hold index URLs without logins; URLs without one are kept byte for byte", () => {
  assert.deepEqual(indexUrlsForKeys(["https://u:p@h.example/simple", "HTTPS://PyPI.org/simple"]), [
    "https://h.example/simple",
    "HTTPS://PyPI.org/simple",
  ]);
  assert.equal(withoutUserinfo("https://tok@h.example/s/"), "https://h.example/s/");
  assert.equal(hasIndexLogin([undefined, "https://h/simple"]), false);
  assert.equal(hasIndexLogin(["https://h/simple", "https://u:p@h/simple"]), true);
});

test("pages: a hash that is no sha256 or a link of a forbidden scheme makes the file unusable, not a path", () => {
  const json = JSON.stringify({
    files: [
      { filename: "a-1-py3-none-any.whl", url: "/f/a1.whl", hashes: { sha256: "../../x.pth" } },
      { filename: "a-2-py3-none-any.whl", url: "/f/a2.whl", hashes: { sha256: 42 } },
      { filename: "a-3-py3-none-any.whl", url: "file:///etc/passwd", hashes: { sha256: HEX } },
      { filename: "a-4-py3-none-any.whl", url: "/f/a4.whl", hashes: { sha256: HEX.toUpperCase() } },
      { filename: "a-5-py3-none-any.whl", url: "/f/a5.whl", "core-metadata": { sha256: "/etc/x" } },
      { filename: "a-6-py3-none-any.whl", url: "data:text/plain,hi" },
    ],
  });
  const files = parseJsonPage(json, "https://idx.example/simple/a/");
  assert.match(files[0]?.unusable ?? "", /its sha256 "\.\.\/\.\.\/x\.pth" is not a sha256 digest/);
  assert.match(files[1]?.unusable ?? "", /its sha256 number is not/);
  assert.equal(files[2]?.unusable, "its link is a file: URL; an http(s) index may link only http(s) files");
  assert.equal(files[3]?.sha256, HEX);
  assert.equal(files[3]?.unusable, undefined);
  assert.match(files[4]?.unusable ?? "", /its metadata's sha256 "\/etc\/x"/);
  assert.equal(files[5]?.unusable, "its link is a data: URL; an http(s) index may link only http(s) files");
  for (const f of files) if (f.unusable) assert.equal(f.sha256, undefined);

  const html = `<a href="/f/b.whl#sha256=%2e%2e%2fx">b-1-py3-none-any.whl</a>
    <a href="/f/c.whl" data-core-metadata="sha256=../m">c-1-py3-none-any.whl</a>
    <a href="/f/e.whl" data-dist-info-metadata="sha256=/abs">e-1-py3-none-any.whl</a>`;
  const fromHtml = parseHtmlPage(html, "https://idx.example/simple/b/");
  assert.match(fromHtml[0]?.unusable ?? "", /its sha256 "\.\.\/x" is not/);
  assert.match(fromHtml[1]?.unusable ?? "", /metadata's sha256 "\.\.\/m"/);
  assert.match(fromHtml[2]?.unusable ?? "", /metadata's sha256 "\/abs"/);
  // A file: index may link its own files.
  const local = parseHtmlPage(
    `<a href="../../f/d.whl#sha256=${HEX}">d-1-py3-none-any.whl</a>`,
    "file:///srv/simple/d/",
  );
  assert.equal(local[0]?.unusable, undefined);
  assert.equal(local[0]?.url, "file:///srv/f/d.whl");
});

test("metadata cache: one key per (index, file name, wheel sha256, metadata sha256); none without any hash", () => {
  const wheel = parseSha256Hex(HEX, "test");
  const file = { filename: "a-1-py3-none-any.whl", url: "https://cdn/a.whl", sha256: wheel };
  const a = metadataCachePath("/c", { ...file, index: "https://a.example/simple" });
  const b = metadataCachePath("/c", { ...file, index: "https://b.example/simple" });
  const withMeta = metadataCachePath("/c", {
    ...file,
    index: "https://a.example/simple",
    metadataSha256: parseSha256Hex("cd".repeat(32), "test"),
  });
  assert.ok(a && b && withMeta);
  assert.equal(new Set([a, b, withMeta]).size, 3);
  assert.match(a, /^\/c\/metadata\/v2\/[0-9a-f]{64}$/);
  assert.equal(metadataCachePath("/c", { filename: file.filename, url: file.url }), undefined);
});

test("METADATA identity: normalised names and PEP 440-equal versions pass, others are refused", () => {
  const file = { filename: "Foo_Bar-1.0-py3-none-any.whl", url: "https://u:p@h/x.whl" };
  checkMetadataIdentity(file, "Name: foo.bar\nVersion: 1.0.0\n");
  checkMetadataIdentity(
    { ...file, filename: "foo-1.0.post1-py3-none-any.whl" },
    "Name: Foo\nVersion: 1.0-1\n",
  );
  checkMetadataIdentity({ ...file, filename: "foo-1.0.tar.gz" }, "Name: other\nVersion: 9\n");
  assert.throws(
    () => checkMetadataIdentity(file, "Name: requests\nVersion: 1.0\n"),
    (e: unknown) =>
      e instanceof TugError &&
      /is for requests 1\.0, not Foo_Bar 1\.0/.test(e.what) &&
      !(e.where ?? "").includes(":p@"),
  );
});
