import assert from "node:assert/strict";
import { test } from "node:test";
import { TugError } from "../../src/errors.ts";
import { versionSatisfies } from "../../src/python/marker-version.ts";
import { evaluateMarker, markerEnvironment, parseMarker } from "../../src/python/markers.ts";
import { parseRuntime } from "../../src/python/runtime.ts";

// The cases below were checked against packaging with CPython 3.12.0: pinned with python_version.
const arm312 = {
  env: markerEnvironment(parseRuntime("python3.12", { arch: "arm64", pythonVersion: "3.12.0" })),
};
const x86_39 = { env: markerEnvironment(parseRuntime("python3.9")) };

test("the marker environment describes the Lambda, not the host", () => {
  assert.deepEqual(arm312.env, {
    implementation_name: "cpython",
    implementation_version: "3.12.0",
    os_name: "posix",
    platform_machine: "aarch64",
    platform_python_implementation: "CPython",
    platform_release: "",
    platform_system: "Linux",
    platform_version: "",
    python_full_version: "3.12.0",
    python_version: "3.12",
    sys_platform: "linux",
  });
  assert.equal(x86_39.env.platform_machine, "x86_64");
  assert.equal(x86_39.env.python_version, "3.9");
});

// Expected values checked against pip's vendored packaging.markers with the same environment.
const cases: [string, boolean][] = [
  ['python_version >= "3.8"', true],
  ['python_version < "3.10"', false],
  ['python_version == "3.12.*"', true],
  ['python_version == "3.1*"', false],
  ['python_version ~= "3.10"', true],
  ['python_full_version >= "3.12.0rc1"', true],
  ['python_full_version < "3.12.0rc1"', false],
  ['python_version > "3.9"', true],
  ['"linux" in sys_platform', true],
  ['platform_machine in "x86_64 aarch64"', true],
  ['platform_machine not in "x86_64"', true],
  ['sys_platform == "win32" or platform_machine == "aarch64" and python_version >= "3.13"', false],
  ['(sys_platform == "win32" or platform_machine == "aarch64") and python_version >= "3.13"', false],
  ['sys_platform == "linux" or platform_machine == "x86_64" and python_version >= "3.13"', true],
  ['"3.12" == python_version', true],
  ['python_version == "3"', false],
  ['python_version != "3.12"', false],
  ['platform_release >= "5"', false],
  ['os_name == "nt"', false],
  ["implementation_name == 'cpython'", true],
  ['python_version === "3.12"', true],
  ['python_version === "3.12.0"', false],
  ['python_full_version == "3.12"', true],
  ['python_version > "3.12.dev0"', true],
  ['python_version <= "3.12.post1"', true],
  ['python_version < "3.12.post1"', true],
  ['platform_system < "M"', true],
  ['platform_python_implementation != "PyPy"', true],
  ['sys.platform == "linux"', true],
];

for (const [text, expected] of cases) {
  test(`python3.12 arm64: ${text} → ${expected}`, () => {
    assert.equal(evaluateMarker(text, arm312), expected);
  });
}

test("version comparison is numeric, not textual", () => {
  assert.equal(evaluateMarker('python_version < "3.10"', x86_39), true);
  assert.equal(evaluateMarker('python_version >= "3.10"', x86_39), false);
  assert.equal(evaluateMarker('python_version >= "3.10"', arm312), true);
});

test("extra compares normalised names and is empty when not installing an extra", () => {
  const m = parseMarker('extra == "Socks_Proxy"');
  assert.equal(evaluateMarker(m, arm312), false);
  assert.equal(evaluateMarker(m, { ...arm312, extra: "socks-proxy" }), true);
  assert.equal(
    evaluateMarker('python_version >= "3.8" and extra == "test"', { ...arm312, extra: "test" }),
    true,
  );
});

test("parsing builds and/or trees with and binding tighter", () => {
  const m = parseMarker('os_name == "nt" or python_version >= "3" and extra == "x"');
  assert.equal(m.kind, "or");
  if (m.kind !== "or") return;
  assert.equal(m.right.kind, "and");
  assert.deepEqual(m.left, {
    kind: "cmp",
    left: { kind: "var", name: "os_name" },
    op: "==",
    right: { kind: "str", value: "nt" },
  });
  assert.deepEqual(parseMarker("python_implementation=='CPython'"), {
    kind: "cmp",
    left: { kind: "var", name: "platform_python_implementation" },
    op: "==",
    right: { kind: "str", value: "CPython" },
  });
});

test("syntax errors are TugErrors with the column", () => {
  const bad: [string, RegExp][] = [
    ['python_version >= "3.8" and', /column 28/],
    ['python_version >> "3.8"', /column 17/],
    ['pythonversion >= "3.8"', /unknown marker variable "pythonversion"/],
    ['(python_version >= "3.8"', /expected "\)"/],
    ['python_version not "3.8"', /expected "in" after "not"/],
    ["python_version == sys_platform", /two marker variables/],
    ['"a" == "b"', /must compare a variable/],
    ['python_version == "3.8" extra', /unexpected text/],
    ['python_version == "3.8', /unexpected character/],
    ["", /expected a marker variable/],
  ];
  for (const [text, re] of bad) {
    assert.throws(
      () => parseMarker(text),
      (e: unknown) => e instanceof TugError && re.test(e.what),
      text,
    );
  }
});

test("versionSatisfies: the PEP 440 subset markers need", () => {
  assert.equal(versionSatisfies("3.12.0", "==", "3.12"), true);
  assert.equal(versionSatisfies("3.12.0", "~=", "3.12.0"), true);
  assert.equal(versionSatisfies("3.13.0", "~=", "3.12.0"), false);
  assert.equal(versionSatisfies("3.12.0", "!=", "3.11.*"), true);
  assert.equal(versionSatisfies("3.12.0", ">", "3.12.0b2"), true);
  assert.equal(versionSatisfies("3.12.0", ">=", "3.12.0.dev1"), true);
  assert.equal(versionSatisfies("3.12.0rc1", "<", "3.12.0"), true);
  assert.equal(versionSatisfies("3.12.0a2", "<", "3.12.0b1"), true);
  assert.equal(versionSatisfies("3.12.0.dev3", "<", "3.12.0a1"), true);
  assert.equal(versionSatisfies("3.12", "~=", "3"), undefined);
  assert.equal(versionSatisfies("linux", "==", "linux"), undefined);
  assert.equal(versionSatisfies("3.12", "===", "3.12"), true);
});

test("python_full_version is the release the runtime runs, or the lambda's python_version", () => {
  const table = markerEnvironment(parseRuntime("python3.11"));
  assert.match(table.python_full_version, /^3\.11\.(\d+)$/);
  assert.notEqual(table.python_full_version, "3.11.0", "the runtime table's patch level, not X.Y.0");
  assert.equal(table.implementation_version, table.python_full_version);
  const marker = "python_full_version < '3.11.3'";
  assert.equal(evaluateMarker(marker, { env: table }), false);
  const old = markerEnvironment(parseRuntime("python3.11", { pythonVersion: "3.11.2" }));
  assert.equal(old.python_full_version, "3.11.2");
  assert.equal(old.python_version, "3.11");
  assert.equal(evaluateMarker(marker, { env: old }), true);
});
