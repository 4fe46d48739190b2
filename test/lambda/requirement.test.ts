import assert from "node:assert/strict";
import { test } from "node:test";
import { TugError } from "../../src/errors.ts";
import { evaluateMarker, markerEnvironment } from "../../src/python/markers.ts";
import { normalizeName } from "../../src/python/name.ts";
import { parseRequirement } from "../../src/python/requirement.ts";
import { parseRuntime } from "../../src/python/runtime.ts";

test("PEP 503 normalisation", () => {
  assert.equal(normalizeName("Friendly-Bard"), "friendly-bard");
  assert.equal(normalizeName("FRIENDLY_BARD"), "friendly-bard");
  assert.equal(normalizeName("friendly.bard"), "friendly-bard");
  assert.equal(normalizeName("friendly--._bard"), "friendly-bard");
  assert.equal(normalizeName("PyYAML"), "pyyaml");
});

test("a bare name has no specifier, extras or marker", () => {
  const r = parseRequirement("msgspec");
  assert.deepEqual(r, {
    name: "msgspec",
    displayName: "msgspec",
    extras: [],
    specifier: "",
    marker: undefined,
    markerText: undefined,
    text: "msgspec",
  });
});

test("name, extras, specifier and marker", () => {
  const r = parseRequirement('Requests[Socks, security,socks] >= 2.8.1, == 2.8.* ; python_version < "3.13"');
  assert.equal(r.name, "requests");
  assert.equal(r.displayName, "Requests");
  assert.deepEqual(r.extras, ["security", "socks"]);
  assert.equal(r.specifier, ">=2.8.1,==2.8.*");
  assert.equal(r.markerText, 'python_version < "3.13"');
  assert.ok(r.marker);
  const env = markerEnvironment(parseRuntime("python3.12"));
  assert.equal(evaluateMarker(r.marker, { env }), true);
});

test("real-world lines", () => {
  assert.equal(parseRequirement("numpy>=1.23,<2.3").specifier, ">=1.23,<2.3");
  assert.equal(parseRequirement("matplotlib==3.11.2").specifier, "==3.11.2");
  assert.equal(parseRequirement("structlog~=26.1").specifier, "~=26.1");
  assert.equal(parseRequirement("name (>=1.0, <2)").specifier, ">=1.0,<2");
  assert.equal(parseRequirement("zope.interface").name, "zope-interface");
  assert.equal(parseRequirement("pydantic_core===2.46.5").specifier, "===2.46.5");
  const tz = parseRequirement('tzdata; sys_platform == "win32"');
  assert.equal(tz.specifier, "");
  assert.equal(
    evaluateMarker(tz.marker ?? "", { env: markerEnvironment(parseRuntime("python3.11")) }),
    false,
  );
  assert.deepEqual(parseRequirement("black[]").extras, []);
});

test("URL requirements are refused with a hint", () => {
  assert.throws(
    () => parseRequirement("pip @ https://github.com/pypa/pip/archive/1.3.1.zip", "requirements.txt:4"),
    (e: unknown) =>
      e instanceof TugError &&
      e.what === 'URL requirement "pip @ https://github.com/pypa/pip/archive/1.3.1.zip" is not supported' &&
      e.where === "requirements.txt:4" &&
      /index/.test(e.hint ?? ""),
  );
  assert.throws(() => parseRequirement("foo[bar] @ file:///tmp/foo.whl"), /URL requirement/);
});

test("malformed requirements are TugErrors naming the line", () => {
  const bad: [string, RegExp][] = [
    ["", /does not start with a distribution name/],
    [">=1.0", /does not start with a distribution name/],
    ["foo[bar", /missing "\]"/],
    ["foo[bar,]", /empty extra name/],
    ["foo >>1", /">>1" is not a version specifier/],
    ["foo 1.0", /"1.0" is not a version specifier/],
    ["foo >=1.*", /only == and != take/],
    ["foo (>=1", /missing "\)"/],
    ["foo ;", /nothing after ";"/],
    ['foo ; python_version >= "3" and', /invalid environment marker/],
  ];
  for (const [text, re] of bad) {
    assert.throws(
      () => parseRequirement(text, "reqs.txt:9"),
      (e: unknown) => e instanceof TugError && re.test(e.what) && e.where === "reqs.txt:9",
      text,
    );
  }
});
