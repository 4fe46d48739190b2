import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { TugError } from "../../src/errors.ts";
import { simpleIndex } from "../../src/python/index-client.ts";
import { parseRequirement } from "../../src/python/requirement.ts";
import { parseRequirementsFile } from "../../src/python/requirements-file.ts";
import {
  fromLock,
  type Resolution,
  type ResolveOptions,
  requirementsFor,
  resolve,
  toLock,
} from "../../src/python/resolver.ts";
import { parseRuntime } from "../../src/python/runtime.ts";
import { guessTopLevel } from "../../src/python/top-level.ts";
import { tempDir } from "../support/tmp.ts";
import { buildFixtureIndex, type FixtureWheel, serveFixtureIndex } from "./support/fixture-index.ts";

const ANY = "py3-none-any";
const WHEELS: FixtureWheel[] = [
  // chain with markers: app → lib → leaf
  { name: "app", version: "1.0", tag: ANY, requiresDist: ["lib>=1", 'oldpy; python_version < "3.12"'] },
  {
    name: "lib",
    version: "1.0",
    tag: ANY,
    requiresDist: ["leaf", 'armonly; platform_machine == "aarch64"'],
    metadataFile: true,
  },
  { name: "leaf", version: "1.0", tag: ANY },
  { name: "oldpy", version: "1.0", tag: ANY },
  { name: "armonly", version: "1.0", tag: ANY },
  // extras
  { name: "fancy", version: "1.0", tag: ANY, requiresDist: ['speedups>=1; extra == "fast"', "leaf"] },
  { name: "speedups", version: "1.0", tag: ANY },
  { name: "wantsfast", version: "1.0", tag: ANY, requiresDist: ["fancy[fast]"] },
  // backtracking: a 2.0 needs b>=3, whose only wheel needs glibc 2.28
  { name: "a", version: "1.0", tag: ANY, requiresDist: ["b<3"] },
  { name: "a", version: "2.0", tag: ANY, requiresDist: ["b>=3"] },
  { name: "b", version: "2.5", tag: ANY },
  { name: "b", version: "2.0", tag: ANY },
  { name: "b", version: "3.0", tag: "py3-none-manylinux_2_28_x86_64" },
  { name: "wantsoldb", version: "1.0", tag: ANY, requiresDist: ["b<2.5"] },
  // conflicting pins
  { name: "x", version: "1.0", tag: ANY, requiresDist: ["c==1.0"] },
  { name: "y", version: "1.0", tag: ANY, requiresDist: ["c==2.0"] },
  { name: "c", version: "1.0", tag: ANY },
  { name: "c", version: "2.0", tag: ANY },
  // unknown distribution, no compatible wheel
  { name: "needsghost", version: "1.0", tag: ANY, requiresDist: ["ghost>=1"] },
  { name: "maconly", version: "1.0", tag: "cp311-cp311-macosx_11_0_arm64" },
  // the talk's example: plot's matplotlib cannot even be installed here, echo must not care
  { name: "msgspec", version: "0.18.6", tag: "cp311-cp311-manylinux_2_17_x86_64" },
  { name: "structlog", version: "24.1.0", tag: ANY },
  { name: "matplotlib", version: "3.9.0", tag: "cp311-cp311-macosx_11_0_arm64" },
  // hash pins: uv.lock locks forked versions of one distribution (1.0 below 3.12, 2.0 from 3.12)
  { name: "forked", version: "1.0", tag: ANY },
  { name: "forked", version: "2.0", tag: ANY, requiresPython: ">=3.12" },
  { name: "forked", version: "3.0", tag: ANY },
  { name: "forked", version: "1.0", tag: "cp311-cp311-macosx_11_0_arm64" },
  { name: "forked", version: "0.5", tag: "cp311-cp311-macosx_11_0_arm64" },
];

const py311 = parseRuntime("python3.11", { arch: "x86_64" });
const py312 = parseRuntime("python3.12", { arch: "x86_64" });
const py311arm = parseRuntime("python3.11", { arch: "arm64" });

async function fixture(t: TestContext) {
  const dir = await tempDir(t, "tug-resolver-");
  const built = await buildFixtureIndex(join(dir, "index"), WHEELS);
  const cacheDir = join(dir, "cache");
  const index = (url = built.simpleUrl) => simpleIndex({ urls: [url], cacheDir });
  return { dir, built, cacheDir, index };
}

const reqs = (...lines: string[]) => lines.map((l) => parseRequirement(l));
const versions = (r: Resolution) => r.distributions.map((d) => `${d.name} ${d.version}`);

async function rejects(p: Promise<unknown>): Promise<TugError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TugError, `expected a TugError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected a TugError");
}

test("a chain with markers evaluated for the target, not the host", async (t) => {
  const f = await fixture(t);
  const on312 = await resolve({ requirements: reqs("app"), target: py312, index: f.index() });
  assert.deepEqual(versions(on312), ["app 1.0", "leaf 1.0", "lib 1.0"]);
  const on311 = await resolve({ requirements: reqs("app"), target: py311, index: f.index() });
  assert.deepEqual(versions(on311), ["app 1.0", "leaf 1.0", "lib 1.0", "oldpy 1.0"]);
  const onArm = await resolve({ requirements: reqs("app"), target: py311arm, index: f.index() });
  assert.deepEqual(versions(onArm), ["app 1.0", "armonly 1.0", "leaf 1.0", "lib 1.0", "oldpy 1.0"]);
  const lib = onArm.distributions.find((d) => d.name === "lib");
  assert.deepEqual(lib?.requiredBy, ["app"]);
  assert.equal(lib?.wheel, "lib-1.0-py3-none-any.whl");
  assert.match(lib?.sha256 ?? "", /^[0-9a-f]{64}$/);
  // a root requirement whose marker is false for the target is skipped
  const skipped = await resolve({
    requirements: reqs('app; python_version < "3.12"'),
    target: py312,
    index: f.index(),
  });
  assert.deepEqual(skipped.distributions, []);
});

test("extras pull their dependencies, also when a later dependent adds them", async (t) => {
  const f = await fixture(t);
  const plain = await resolve({ requirements: reqs("fancy"), target: py311, index: f.index() });
  assert.deepEqual(versions(plain), ["fancy 1.0", "leaf 1.0"]);
  const fast = await resolve({ requirements: reqs("fancy[fast]"), target: py311, index: f.index() });
  assert.deepEqual(versions(fast), ["fancy 1.0", "leaf 1.0", "speedups 1.0"]);
  assert.deepEqual(fast.distributions.find((d) => d.name === "speedups")?.requiredBy, ["fancy"]);
  // fancy is decided first without extras; wantsfast then asks for fancy[fast]: fancy is re-visited
  const late = await resolve({ requirements: reqs("fancy", "wantsfast"), target: py311, index: f.index() });
  assert.deepEqual(versions(late), ["fancy 1.0", "leaf 1.0", "speedups 1.0", "wantsfast 1.0"]);
  const viaOption = await resolve({
    requirements: reqs("fancy"),
    target: py311,
    index: f.index(),
    extrasOf: new Map([["Fancy", ["FAST"]]]),
  });
  assert.deepEqual(versions(viaOption), ["fancy 1.0", "leaf 1.0", "speedups 1.0"]);
});

test("backtracks from a version whose dependency has no wheel for the target", async (t) => {
  const f = await fixture(t);
  const old = await resolve({ requirements: reqs("a"), target: py311, index: f.index() });
  assert.deepEqual(versions(old), ["a 1.0", "b 2.5"]);
  // AL2023's glibc 2.34 can take b 3.0's manylinux_2_28 wheel, so the newest a wins there
  const fresh = await resolve({ requirements: reqs("a"), target: py312, index: f.index() });
  assert.deepEqual(versions(fresh), ["a 2.0", "b 3.0"]);
  // a later constraint excluding a version chosen earlier: b 2.5 is undone for b 2.0
  const later = await resolve({ requirements: reqs("b", "wantsoldb"), target: py311, index: f.index() });
  assert.deepEqual(versions(later), ["b 2.0", "wantsoldb 1.0"]);
  const pinned = await resolve({
    requirements: reqs("b<2.5", "a"),
    target: py311,
    index: f.index(),
  });
  assert.deepEqual(versions(pinned), ["a 1.0", "b 2.0"]);
  assert.deepEqual(pinned.distributions.find((d) => d.name === "b")?.requiredBy, ["a", "requirements"]);
});

test("conflicting pins fail once, naming the distribution, the specifiers and both requirers", async (t) => {
  const f = await fixture(t);
  const err = await rejects(resolve({ requirements: reqs("x", "y"), target: py311, index: f.index() }));
  assert.match(err.what, /conflicting requirements for c/);
  assert.match(err.what, /==1\.0 \(required by x 1\.0\)/);
  assert.match(err.what, /==2\.0 \(required by y 1\.0\)/);
  assert.equal(err.where, "x 1.0, y 1.0");
  // a constraint that excludes the version chosen earlier, with nothing left to backtrack to
  const chosen = await rejects(
    resolve({ requirements: reqs("b>=2.5", "wantsoldb"), target: py311, index: f.index() }),
  );
  assert.match(
    chosen.what,
    /conflicting requirements for b: >=2\.5 \(required by requirements\), <2\.5 \(required by wantsoldb 1\.0\); b 2\.5 was chosen first/,
  );
  // a pin (e.g. from uv.lock) against a requirement, with the requirement's file and line
  const file = parseRequirementsFile("c>=2\n", "requirements.txt");
  const pinErr = await rejects(
    resolve({
      requirements: file.requirements,
      target: py311,
      index: f.index(),
      pins: new Map([["c", "1.0"]]),
    }),
  );
  assert.match(pinErr.what, />=2 \(required by requirements\.txt:1\), ==1\.0 \(pinned\)/);
});

test("an unknown distribution names who required it; no wheel names the target", async (t) => {
  const f = await fixture(t);
  const unknown = await rejects(
    resolve({ requirements: reqs("needsghost"), target: py311, index: f.index() }),
  );
  assert.match(unknown.what, /unknown distribution ghost/);
  assert.equal(unknown.where, "needsghost 1.0");
  const direct = await rejects(
    resolve({ requirements: reqs("nope-nothing"), target: py311, index: f.index() }),
  );
  assert.match(direct.what, /unknown distribution nope-nothing/);
  const noWheel = await rejects(resolve({ requirements: reqs("maconly"), target: py311, index: f.index() }));
  assert.match(noWheel.what, /no wheel of maconly fits python3\.11 on x86_64/);
  assert.match(noWheel.what, /macosx_11_0_arm64/);
  assert.equal(noWheel.where, "requirements");
});

test("--hash pins: the chosen wheel's sha256 must be listed; other bytes are a hash mismatch", async (t) => {
  const f = await fixture(t);
  const ok = await resolve({ requirements: reqs("leaf"), target: py311, index: f.index() });
  const sha = ok.distributions[0]?.sha256 ?? "";
  const pinned = await resolve({
    requirements: reqs("leaf==1.0"),
    target: py311,
    index: f.index(),
    hashes: new Map([["leaf", [`sha256:${"0".repeat(64)}`, `sha256:${sha}`]]]),
  });
  assert.deepEqual(versions(pinned), ["leaf 1.0"]);
  const bad = `sha256:${"ab".repeat(32)}`;
  const err = await rejects(
    resolve({
      requirements: reqs("leaf==1.0"),
      target: py311,
      index: f.index(),
      hashes: new Map([["leaf", [bad]]]),
    }),
  );
  assert.match(err.what, /hash mismatch for leaf-1\.0-py3-none-any\.whl/);
  assert.ok(err.what.includes(bad) && err.what.includes(sha));
  // no version pin either: no file on the index has a pinned hash, the fitting one is named
  const unversioned = await rejects(
    resolve({
      requirements: reqs("leaf"),
      target: py311,
      index: f.index(),
      hashes: new Map([["leaf", [bad]]]),
    }),
  );
  assert.match(unversioned.what, /hash mismatch for leaf-1\.0-py3-none-any\.whl/);
});

test("hash pins filter candidates: a newer version with no pinned wheel is skipped", async (t) => {
  const f = await fixture(t);
  const pin = async (filename: string) => {
    const path = f.built.wheels.get(filename);
    assert.ok(path, filename);
    return `sha256:${createHash("sha256")
      .update(await readFile(path))
      .digest("hex")}`;
  };
  // what uv.lock gives: every locked wheel's hash, and no single version pin
  const locked = [await pin("forked-1.0-py3-none-any.whl"), await pin("forked-2.0-py3-none-any.whl")];
  const hashes = new Map([["forked", locked]]);
  const unpinned = await resolve({ requirements: reqs("forked"), target: py311, index: f.index() });
  assert.deepEqual(versions(unpinned), ["forked 3.0"]);
  const on311 = await resolve({ requirements: reqs("forked"), target: py311, index: f.index(), hashes });
  assert.deepEqual(versions(on311), ["forked 1.0"], "3.0 is not locked, 2.0 needs Python 3.12");
  assert.equal(on311.distributions[0]?.sha256, locked[0]?.slice("sha256:".length));
  const on312 = await resolve({ requirements: reqs("forked"), target: py312, index: f.index(), hashes });
  assert.deepEqual(versions(on312), ["forked 2.0"]);

  // only pinned wheels that cannot be installed here: each is named with why
  const file = parseRequirementsFile("fakeyaml\nforked>=0.5\n", "requirements.txt");
  const misfit = await rejects(
    resolve({
      requirements: file.requirements.slice(1),
      target: py311,
      index: f.index(),
      hashes: new Map([
        [
          "forked",
          [
            await pin("forked-2.0-py3-none-any.whl"),
            await pin("forked-0.5-cp311-cp311-macosx_11_0_arm64.whl"),
          ],
        ],
      ]),
    }),
  );
  assert.match(misfit.what, /^no pinned wheel of forked >=0\.5 fits python3\.11 on x86_64/);
  assert.match(misfit.what, /forked-2\.0-py3-none-any\.whl \(requires-python >=3\.12\)/);
  assert.match(
    misfit.what,
    /forked-0\.5-cp311-cp311-macosx_11_0_arm64\.whl \(for cp311-cp311-macosx_11_0_arm64\)/,
  );
  assert.doesNotMatch(misfit.what, /hash mismatch/);
  assert.equal(misfit.where, "requirements.txt:2");
  assert.match(misfit.hint ?? "", /forked-3\.0-py3-none-any\.whl is not one of them/);

  // the locked version is served with other bytes (its other wheel still matches): a mismatch
  const tampered = await rejects(
    resolve({
      requirements: file.requirements.slice(1),
      target: py311,
      index: f.index(),
      hashes: new Map([
        ["forked", [`sha256:${"cd".repeat(32)}`, await pin("forked-1.0-cp311-cp311-macosx_11_0_arm64.whl")]],
      ]),
    }),
  );
  assert.match(tampered.what, /^hash mismatch for forked-1\.0-py3-none-any\.whl: its sha256 is [0-9a-f]{64}/);
  assert.ok(tampered.what.includes(`sha256:${"cd".repeat(32)}`));
  assert.equal(tampered.where, "requirements.txt:2");
  assert.match(tampered.hint ?? "", /different bytes than the pins name/);
});

test("deterministic: the same resolution from two runs, from file:// and over http", async (t) => {
  const f = await fixture(t);
  const served = await serveFixtureIndex(t, f.built.root);
  const options = (index: ResolveOptions["index"]): ResolveOptions => ({
    requirements: reqs("wantsfast", "app", "a", "fancy"),
    target: py311arm,
    index,
  });
  const one = await resolve(options(f.index()));
  const two = await resolve(options(f.index()));
  assert.equal(toLock(one), toLock(two));
  const http = await resolve(options(f.index(served.simpleUrl)));
  const strip = (r: Resolution) => r.distributions.map(({ url: _url, ...rest }) => rest);
  assert.deepEqual(strip(http), strip(one));
  assert.ok(http.distributions.every((d) => d.url.startsWith(served.simpleUrl.replace("/simple/", "/"))));
  const names = one.distributions.map((d) => d.name);
  assert.deepEqual(names, [...names].sort());
});

test("lock round-trip: a repeat build makes zero index requests", async (t) => {
  const f = await fixture(t);
  const first = f.index();
  const resolution = await resolve({ requirements: reqs("app", "fancy[fast]"), target: py311, index: first });
  for (const d of resolution.distributions)
    await first.wheelPath({ filename: d.wheel, url: d.url, sha256: d.sha256 });
  assert.ok(first.requests.length > 0);
  const lock = toLock(resolution);

  const again = f.index();
  const locked = fromLock(lock, py311);
  assert.deepEqual(locked, resolution);
  for (const d of locked.distributions)
    await again.wheelPath({ filename: d.wheel, url: d.url, sha256: d.sha256 });
  assert.deepEqual(again.requests, []);

  const other = await rejects(Promise.resolve().then(() => fromLock(lock, py312)));
  assert.match(other.what, /made for python3\.11\/x86_64 glibc 2\.26, not python3\.12\/x86_64/);
  const broken = await rejects(Promise.resolve().then(() => fromLock("{", py311, "tug.lock")));
  assert.match(broken.what, /lock is malformed/);
});

test("requirementsFor keeps only what a function imports; another function's bad pin never matters", async (t) => {
  const f = await fixture(t);
  const all = parseRequirementsFile(
    "msgspec\nstructlog>=24\nmatplotlib>=3\nPyYAML\n",
    "requirements.txt",
  ).requirements;
  const echo = requirementsFor(all, ["msgspec", "structlog.stdlib"], guessTopLevel);
  assert.deepEqual(
    echo.map((r) => r.name),
    ["msgspec", "structlog"],
  );
  const plot = requirementsFor(all, ["matplotlib", "yaml"], guessTopLevel);
  assert.deepEqual(
    plot.map((r) => r.name),
    ["matplotlib", "pyyaml"],
  );
  const echoRes = await resolve({ requirements: echo, target: py311, index: f.index() });
  assert.deepEqual(versions(echoRes), ["msgspec 0.18.6", "structlog 24.1.0"]);
  assert.deepEqual(echoRes.distributions[0]?.requiredBy, ["requirements.txt:1"]);
  // matplotlib here has only a macOS wheel: plot fails, echo above did not
  const plotErr = await rejects(resolve({ requirements: plot, target: py311, index: f.index() }));
  assert.match(plotErr.what, /matplotlib/);
});
