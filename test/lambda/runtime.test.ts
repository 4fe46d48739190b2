import assert from "node:assert/strict";
import { test } from "node:test";
import { TugError } from "../../src/errors.ts";
import { PYTHON_RUNTIMES, parseGlibc, parseRuntime, runtimePythonVersion } from "../../src/python/runtime.ts";

test("python3.9 … python3.14 are the known runtimes", () => {
  assert.deepEqual(PYTHON_RUNTIMES, [
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
  ]);
});

test("Amazon Linux 2 runtimes have glibc 2.26, AL2023 runtimes 2.34", () => {
  for (const name of ["python3.9", "python3.10", "python3.11"]) {
    assert.deepEqual(parseRuntime(name).glibc, { major: 2, minor: 26 });
    assert.equal(parseRuntime(name).os, "Amazon Linux 2");
  }
  for (const name of ["python3.12", "python3.13", "python3.14"]) {
    assert.deepEqual(parseRuntime(name).glibc, { major: 2, minor: 34 });
    assert.equal(parseRuntime(name).os, "Amazon Linux 2023");
  }
});

test("architecture maps to Python's machine name, x86_64 by default", () => {
  const t = parseRuntime("python3.12", { arch: "arm64" });
  assert.deepEqual(t, {
    runtime: "python3.12",
    arch: "arm64",
    machine: "aarch64",
    python: [3, 12],
    fullVersion: runtimePythonVersion("python3.12"),
    glibc: { major: 2, minor: 34 },
    os: "Amazon Linux 2023",
  });
  assert.equal(parseRuntime("python3.10").machine, "x86_64");
  assert.deepEqual(parseRuntime("python3.10").python, [3, 10]);
});

test("python_version overrides the runtime table's CPython release; it must be X.Y.Z of the runtime's X.Y", () => {
  assert.match(runtimePythonVersion("python3.12") ?? "", /^3\.12\.\d+$/);
  assert.equal(parseRuntime("python3.12").fullVersion, runtimePythonVersion("python3.12"));
  assert.equal(parseRuntime("python3.11", { pythonVersion: "3.11.9" }).fullVersion, "3.11.9");
  const where = "lambdas.api (tug.yaml:4)";
  assert.throws(
    () => parseRuntime("python3.11", { pythonVersion: "3.12.1", where }),
    (e: unknown) =>
      e instanceof TugError &&
      e.what === 'python_version "3.12.1" is not a release of python3.11 (Python 3.11)' &&
      e.where === where,
  );
  assert.throws(
    () => parseRuntime("python3.11", { pythonVersion: "3.11", where }),
    (e: unknown) =>
      e instanceof TugError && /invalid python_version "3.11"/.test(e.what) && /3\.11\.9/.test(e.hint ?? ""),
  );
});

test("a glibc override replaces the runtime's ceiling", () => {
  assert.deepEqual(parseRuntime("python3.11", { glibc: "2.28" }).glibc, { major: 2, minor: 28 });
  assert.deepEqual(parseRuntime("python3.11", { glibc: { major: 2, minor: 17 } }).glibc, {
    major: 2,
    minor: 17,
  });
});

test("an unknown runtime is a TugError listing the valid names", () => {
  assert.throws(
    () => parseRuntime("python3.8", { where: "lambdas.echo (tug.yaml:4)" }),
    (e: unknown) =>
      e instanceof TugError &&
      e.what === 'unknown Python Lambda runtime "python3.8"' &&
      e.where === "lambdas.echo (tug.yaml:4)" &&
      e.hint === "use one of python3.9, python3.10, python3.11, python3.12, python3.13, python3.14",
  );
  assert.throws(() => parseRuntime("nodejs20.x"), TugError);
});

test("an unknown architecture or malformed glibc is a TugError", () => {
  assert.throws(
    () => parseRuntime("python3.12", { arch: "aarch64" }),
    (e: unknown) => e instanceof TugError && /x86_64, arm64/.test(e.hint ?? ""),
  );
  for (const bad of ["2", "2.x", "3.1", "", "2.28.1"]) {
    assert.throws(() => parseGlibc(bad), TugError, bad);
  }
  assert.deepEqual(parseGlibc(" 2.31 "), { major: 2, minor: 31 });
});
