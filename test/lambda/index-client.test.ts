import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { TugError } from "../../src/errors.ts";
import { candidates, noCompatibleWheelError } from "../../src/python/candidates.ts";
import { parseMetadata, simpleIndex } from "../../src/python/index-client.ts";
import { parseHtmlPage, parseJsonPage } from "../../src/python/index-page.ts";
import { parseRuntime } from "../../src/python/runtime.ts";
import { tempDir } from "../support/tmp.ts";
import { buildFixtureIndex, type FixtureWheel, serveFixtureIndex } from "./support/fixture-index.ts";

const WHEELS: FixtureWheel[] = [
  {
    name: "Pure_Lib",
    version: "1.0",
    tag: "py3-none-any",
    requiresDist: ['numpy>=1; python_version >= "3.9"'],
  },
  { name: "Pure_Lib", version: "1.1", tag: "py3-none-any", metadataFile: true, requiresPython: ">=3.8" },
  { name: "fastnum", version: "1.0", tag: "cp311-abi3-manylinux_2_17_x86_64" },
  { name: "fastnum", version: "1.0", tag: "cp311-abi3-manylinux_2_17_aarch64" },
  { name: "fastnum", version: "1.1", tag: "cp311-cp311-manylinux_2_17_x86_64" },
  { name: "fastnum", version: "1.1", tag: "py3-none-any" },
  { name: "fastnum", version: "2.0", tag: "cp311-cp311-manylinux_2_28_x86_64" },
  { name: "maconly", version: "3.0", tag: "cp311-cp311-macosx_11_0_arm64" },
  { name: "yanky", version: "1.0", tag: "py3-none-any" },
  { name: "yanky", version: "2.0", tag: "py3-none-any", yanked: "broken" },
  { name: "newpy", version: "1.0", tag: "py3-none-any" },
  { name: "newpy", version: "2.0", tag: "py3-none-any", requiresPython: ">=3.12" },
];

async function fixture(t: TestContext) {
  const dir = await tempDir(t, "tug-index-");
  const index = await buildFixtureIndex(join(dir, "index"), WHEELS);
  return { dir, index, cacheDir: join(dir, "cache") };
}

const py311 = parseRuntime("python3.11", { arch: "x86_64" });

test("PEP 503 HTML: hashes, requires-python, yanked, metadata, entities, relative links", () => {
  const html = `<html><body>
    <a href="../../files/a-1.0-py3-none-any.whl#sha256=${"a".repeat(64)}" data-requires-python="&gt;=3.8"
       data-dist-info-metadata="sha256=${"b".repeat(64)}">a-1.0-py3-none-any.whl</a>
    <a href='https://cdn.example/a-0.9.tar.gz' data-yanked>a-0.9.tar.gz</a>
    <a href="../../files/a-0.8-py3-none-any.whl" data-core-metadata="true" data-yanked="bad &amp; sad">a-0.8-py3-none-any.whl</a>
  </body></html>`;
  const files = parseHtmlPage(html, "https://idx.example/simple/a/");
  assert.deepEqual(files[0], {
    filename: "a-1.0-py3-none-any.whl",
    url: "https://idx.example/files/a-1.0-py3-none-any.whl",
    sha256: "a".repeat(64),
    requiresPython: ">=3.8",
    metadataUrl: "https://idx.example/files/a-1.0-py3-none-any.whl.metadata",
    metadataSha256: "b".repeat(64),
  });
  assert.equal(files[1]?.yanked, "");
  assert.equal(files[1]?.url, "https://cdn.example/a-0.9.tar.gz");
  assert.equal(files[2]?.yanked, "bad & sad");
  assert.equal(files[2]?.metadataUrl, "https://idx.example/files/a-0.8-py3-none-any.whl.metadata");
  assert.equal(files[2]?.sha256, undefined);
});

test("PEP 691 JSON: hashes, yanked, core-metadata, relative urls", () => {
  const doc = {
    meta: { "api-version": "1.1" },
    name: "a",
    files: [
      {
        filename: "a-1.0-py3-none-any.whl",
        url: "/f/a-1.0-py3-none-any.whl",
        hashes: { sha256: "C".repeat(64) },
        "core-metadata": { sha256: "d".repeat(64) },
        yanked: "oops",
        "requires-python": ">=3.9",
      },
      {
        filename: "a-0.1-py3-none-any.whl",
        url: "a-0.1-py3-none-any.whl",
        hashes: {},
        "dist-info-metadata": true,
        yanked: false,
      },
    ],
  };
  const files = parseJsonPage(JSON.stringify(doc), "https://idx.example/simple/a/");
  assert.equal(files[0]?.url, "https://idx.example/f/a-1.0-py3-none-any.whl");
  assert.equal(files[0]?.sha256, "c".repeat(64));
  assert.equal(files[0]?.yanked, "oops");
  assert.equal(files[0]?.requiresPython, ">=3.9");
  assert.equal(files[0]?.metadataSha256, "d".repeat(64));
  assert.equal(files[1]?.url, "https://idx.example/simple/a/a-0.1-py3-none-any.whl");
  assert.equal(files[1]?.yanked, undefined);
  assert.equal(files[1]?.metadataUrl, "https://idx.example/simple/a/a-0.1-py3-none-any.whl.metadata");
  assert.throws(() => parseJsonPage("{}", "https://idx.example/simple/a/"), TugError);
});

test("METADATA headers: continuation lines, repeated Requires-Dist, body ignored", () => {
  const m = parseMetadata(
    "Metadata-Version: 2.1\nName: Foo\nVersion: 1.0\nRequires-Dist: bar>=1\nRequires-Dist: baz;\n  extra == 'x'\nRequires-Python: >=3.9\n\nRequires-Dist: nope\n",
  );
  assert.deepEqual(m.requiresDist, ["bar>=1", "baz;\nextra == 'x'"]);
  assert.equal(m.requiresPython, ">=3.9");
  assert.equal(m.name, "Foo");
});

test("file:// index: normalised names, PEP 658 metadata, METADATA from the wheel, cached by sha256", async (t) => {
  const { index, cacheDir } = await fixture(t);
  const client = simpleIndex({ urls: [index.simpleUrl], cacheDir });
  const files = await client.projectFiles("pure.lib");
  assert.deepEqual(files.map((f) => f.filename).sort(), [
    "Pure_Lib-1.0-py3-none-any.whl",
    "Pure_Lib-1.1-py3-none-any.whl",
  ]);
  assert.deepEqual(await client.projectFiles("nope"), []);
  const withMeta = files.find((f) => f.metadataUrl);
  const withoutMeta = files.find((f) => !f.metadataUrl);
  assert.ok(withMeta && withoutMeta);
  assert.equal(parseMetadata(await client.metadata(withMeta)).requiresPython, ">=3.8");
  assert.equal(
    client.requests.some((u) => u.endsWith(".whl")),
    false,
    "PEP 658 avoids the wheel",
  );
  const meta = parseMetadata(await client.metadata(withoutMeta));
  assert.deepEqual(meta.requiresDist, ['numpy>=1; python_version >= "3.9"']);
  const path = await client.wheelPath(withoutMeta);
  assert.equal(path, join(cacheDir, "wheels", "sha256", withoutMeta.sha256 ?? ""));

  const again = simpleIndex({ urls: [index.simpleUrl], cacheDir });
  const before = again.requests.length;
  await again.metadata(withoutMeta);
  await again.wheelPath(withoutMeta);
  assert.equal(again.requests.length, before, "cached metadata and wheel need no fetch");
});

test("http index: PEP 691 JSON when offered, PEP 503 HTML otherwise, same files", async (t) => {
  const { index, dir } = await fixture(t);
  const json = await serveFixtureIndex(t, index.root, { ranges: false });
  const html = await serveFixtureIndex(t, index.root, { json: false });
  const a = simpleIndex({ urls: [json.simpleUrl], cacheDir: join(dir, "c1") });
  const b = simpleIndex({ urls: [html.simpleUrl], cacheDir: join(dir, "c2") });
  const fa = await a.projectFiles("FastNum");
  const fb = await b.projectFiles("fastnum");
  assert.ok(json.log.includes("GET /simple/fastnum/ json"));
  assert.ok(html.log.includes("GET /simple/fastnum/ html"));
  const strip = (fs: typeof fa) => fs.map((f) => [f.filename, f.sha256, new URL(f.url).pathname]).sort();
  assert.deepEqual(strip(fa), strip(fb));
  const first = fa[0];
  assert.ok(first);
  const meta = parseMetadata(await a.metadata(first));
  assert.equal(meta.name, "fastnum");
  assert.ok(json.log.some((l) => l.endsWith(".whl file")));
  assert.deepEqual(await a.projectFiles("missing"), []);
});

test("http index without PEP 658: METADATA comes out of the wheel by range requests, not a download", async (t) => {
  const { index, dir } = await fixture(t);
  const served = await serveFixtureIndex(t, index.root);
  const client = simpleIndex({ urls: [served.simpleUrl], cacheDir: join(dir, "cache") });
  const files = await client.projectFiles("fastnum");
  const file = files.find((f) => f.filename === "fastnum-2.0-cp311-cp311-manylinux_2_28_x86_64.whl");
  assert.ok(file && !file.metadataUrl);
  const meta = parseMetadata(await client.metadata(file));
  assert.equal(meta.name, "fastnum");
  assert.equal(meta.version, "2.0");
  const wheelGets = served.log.filter((l) => l.includes(file.filename));
  assert.ok(wheelGets.length >= 2, wheelGets.join("\n"));
  assert.ok(
    wheelGets.every((l) => / range \d+-\d+$/.test(l)),
    `only ranges of the wheel were read:\n${wheelGets.join("\n")}`,
  );

  // A server that ignores Range gets one plain download instead, and the answer is the same.
  const plain = await serveFixtureIndex(t, index.root, { ranges: false });
  const other = simpleIndex({ urls: [plain.simpleUrl], cacheDir: join(dir, "cache2") });
  const same = (await other.projectFiles("fastnum")).find((f) => f.filename === file.filename);
  assert.ok(same);
  assert.deepEqual(parseMetadata(await other.metadata(same)), meta);
  assert.ok(plain.log.some((l) => l.endsWith(`${file.filename} file`)));
});

test("extra index urls are merged", async (t) => {
  const dir = await tempDir(t, "tug-index-");
  const one = await buildFixtureIndex(join(dir, "one"), [{ name: "x", version: "1.0", tag: "py3-none-any" }]);
  const two = await buildFixtureIndex(join(dir, "two"), [{ name: "x", version: "2.0", tag: "py3-none-any" }]);
  const client = simpleIndex({ urls: [one.simpleUrl, two.simpleUrl], cacheDir: join(dir, "cache") });
  assert.deepEqual(
    (await client.projectFiles("x")).map((f) => f.filename),
    ["x-1.0-py3-none-any.whl", "x-2.0-py3-none-any.whl"],
  );
});

test("a tampered wheel is refused with a TugError naming it, and not cached", async (t) => {
  const { index, cacheDir } = await fixture(t);
  const client = simpleIndex({ urls: [index.simpleUrl], cacheDir });
  const file = (await client.projectFiles("yanky")).find((f) => f.filename === "yanky-1.0-py3-none-any.whl");
  assert.ok(file);
  await writeFile(index.wheels.get(file.filename) ?? "", "not a wheel");
  await assert.rejects(client.wheelPath(file), (err: unknown) => {
    assert.ok(err instanceof TugError);
    assert.match(err.what, /yanky-1\.0-py3-none-any\.whl does not match the index's sha256/);
    return true;
  });
  await assert.rejects(client.metadata(file), TugError);
});

test("candidates: compatible wheels are filtered before the newest is chosen (Pants #17621)", async (t) => {
  const { index, cacheDir } = await fixture(t);
  const files = await simpleIndex({ urls: [index.simpleUrl], cacheDir }).projectFiles("fastnum");
  const r = candidates({ name: "fastnum", files, target: py311, specifier: "" });
  assert.deepEqual(
    r.candidates.map((c) => c.version),
    ["1.1", "1.0"],
  );
  assert.equal(
    r.candidates[0]?.wheel.filename,
    "fastnum-1.1-cp311-cp311-manylinux_2_17_x86_64.whl",
    "best tag wins over py3-none-any",
  );
  assert.equal(r.candidates[1]?.tag, "cp311-abi3-manylinux_2_17_x86_64");

  const glibc228 = parseRuntime("python3.11", { arch: "x86_64", glibc: "2.28" });
  const newer = candidates({ name: "fastnum", files, target: glibc228, specifier: "" });
  assert.equal(newer.candidates[0]?.version, "2.0");

  const arm = candidates({
    name: "fastnum",
    files,
    target: parseRuntime("python3.11", { arch: "arm64" }),
    specifier: "",
  });
  assert.deepEqual(
    arm.candidates.map((c) => c.wheel.filename),
    ["fastnum-1.1-py3-none-any.whl", "fastnum-1.0-cp311-abi3-manylinux_2_17_aarch64.whl"],
  );

  const pinned = candidates({ name: "fastnum", files, target: py311, specifier: ">=2" });
  assert.deepEqual(pinned.candidates, []);
  assert.deepEqual(pinned.noCompatibleWheel?.looked, [
    { version: "2.0", reason: "no-compatible-wheel", offeredTags: ["cp311-cp311-manylinux_2_28_x86_64"] },
  ]);
  const err = noCompatibleWheelError(pinned.noCompatibleWheel ?? assert.fail(), "lambdas.plot");
  assert.match(err.what, /no wheel of fastnum >=2 fits python3\.11 on x86_64 \(glibc ≤ 2\.26/);
  assert.match(err.what, /2\.0 \(cp311-cp311-manylinux_2_28_x86_64\)/);
  assert.match(err.hint ?? "", /glibc: "2\.28"/);
});

test("candidates: macOS-only wheels never match Lambda", async (t) => {
  const { index, cacheDir } = await fixture(t);
  const files = await simpleIndex({ urls: [index.simpleUrl], cacheDir }).projectFiles("maconly");
  const r = candidates({
    name: "maconly",
    files,
    target: parseRuntime("python3.11", { arch: "arm64" }),
    specifier: "",
  });
  assert.deepEqual(r.candidates, []);
  assert.deepEqual(
    r.noCompatibleWheel?.looked.map((v) => v.offeredTags),
    [["cp311-cp311-macosx_11_0_arm64"]],
  );
});

test("candidates: yanked only when pinned with ==; requires-python for the target's Python", async (t) => {
  const { index, cacheDir } = await fixture(t);
  const client = simpleIndex({ urls: [index.simpleUrl], cacheDir });
  const yanky = await client.projectFiles("yanky");
  assert.deepEqual(
    candidates({ name: "yanky", files: yanky, target: py311, specifier: "" }).candidates.map(
      (c) => c.version,
    ),
    ["1.0"],
  );
  assert.deepEqual(
    candidates({ name: "yanky", files: yanky, target: py311, specifier: "==2.0" }).candidates.map(
      (c) => c.version,
    ),
    ["2.0"],
  );
  const gone = candidates({ name: "yanky", files: yanky, target: py311, specifier: ">=2" });
  assert.equal(gone.noCompatibleWheel?.looked[0]?.reason, "yanked");

  const newpy = await client.projectFiles("newpy");
  assert.deepEqual(
    candidates({ name: "newpy", files: newpy, target: py311, specifier: "" }).candidates.map(
      (c) => c.version,
    ),
    ["1.0"],
  );
  const py312 = parseRuntime("python3.12", { arch: "x86_64" });
  assert.deepEqual(
    candidates({ name: "newpy", files: newpy, target: py312, specifier: "" }).candidates.map(
      (c) => c.version,
    ),
    ["2.0", "1.0"],
  );
  const only2 = candidates({ name: "newpy", files: newpy, target: py311, specifier: "==2.0" });
  assert.deepEqual(only2.noCompatibleWheel?.looked, [
    { version: "2.0", reason: "requires-python", offeredTags: ["py3-none-any"], requiresPython: ">=3.12" },
  ]);
});
