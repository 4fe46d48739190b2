import assert from "node:assert/strict";
import { test } from "node:test";
import { TugError } from "../../src/errors.ts";
import { tagPriority, targetTags } from "../../src/python/tags.ts";
import { bestTagIndex, isCompatible, parseWheelName } from "../../src/python/wheel-name.ts";

const py311x86 = targetTags("python3.11", "x86_64");
const py311arm = targetTags("python3.11", "arm64");
const py312x86 = targetTags("python3.12", "x86_64");

test("a compressed tag set expands to every triple", () => {
  const w = parseWheelName("numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
  assert.equal(w.name, "numpy");
  assert.equal(w.normalizedName, "numpy");
  assert.equal(w.version, "2.2.6");
  assert.equal(w.build, undefined);
  assert.deepEqual(w.pythonTags, ["cp311"]);
  assert.deepEqual(w.abiTags, ["cp311"]);
  assert.deepEqual(w.platformTags, ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]);
  assert.deepEqual(w.tags, ["cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"]);
});

test("names are unescaped only by normalisation; build tags are parsed", () => {
  const w = parseWheelName("pydantic_core-2.46.5-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
  assert.equal(w.name, "pydantic_core");
  assert.equal(w.normalizedName, "pydantic-core");
  const b = parseWheelName("Foo.Bar-1.0-2local-py2.py3-none-any.whl");
  assert.equal(b.normalizedName, "foo-bar");
  assert.deepEqual(b.build, [2, "local"]);
  assert.deepEqual(b.tags, ["py2-none-any", "py3-none-any"]);
  assert.deepEqual(parseWheelName("X-1-CP311-ABI3-Linux_X86_64.whl").tags, ["cp311-abi3-linux_x86_64"]);
  assert.equal(
    parseWheelName("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").version,
    "2.13.0+cpu",
  );
});

test("malformed filenames are TugErrors", () => {
  for (const bad of [
    "numpy-2.2.6.tar.gz",
    "numpy-2.2.6-cp311-manylinux_2_17_x86_64.whl",
    "numpy-2.2.6-x-y-cp311-cp311-linux_x86_64.whl",
    "numpy-2.2.6-local-cp311-cp311-linux_x86_64.whl",
    "-2.2.6-cp311-cp311-linux_x86_64.whl",
    "numpy-2.2.6-cp311-cp311-.whl",
  ]) {
    assert.throws(() => parseWheelName(bad), TugError, bad);
  }
});

test("numpy/matplotlib manylinux2014 wheels fit python3.11 x86_64 at its own ABI", () => {
  const numpy = parseWheelName("numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
  assert.equal(bestTagIndex(numpy, py311x86), py311x86.indexOf("cp311-cp311-manylinux_2_17_x86_64"));
  const mpl = parseWheelName("matplotlib-3.11.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl");
  assert.equal(bestTagIndex(mpl, py311x86), 9);
  assert.equal(bestTagIndex(mpl, py311arm), undefined, "x86_64 wheel on arm64");
  assert.equal(bestTagIndex(mpl, py312x86), undefined, "cp311 ABI on python3.12");
});

test("a manylinux_2_28-only wheel does not fit python3.11 x86_64 (glibc 2.26) unless overridden", () => {
  for (const name of [
    "contourpy-1.3.3-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
    "numpy-2.3.5-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
    "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl",
  ]) {
    const w = parseWheelName(name);
    assert.equal(bestTagIndex(w, py311x86), undefined, name);
    assert.equal(isCompatible(w, py311x86), false);
    const raised = targetTags("python3.11", "x86_64", "2.28");
    assert.ok(isCompatible(w, raised), name);
  }
  // An older numpy with a manylinux2014 wheel is the candidate the resolver must fall back to.
  const older = parseWheelName("numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
  assert.ok(isCompatible(older, py311x86));
});

test("the best of several platform tags wins", () => {
  const msgspec = parseWheelName(
    "msgspec-0.22.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
  );
  assert.equal(bestTagIndex(msgspec, py311x86), py311x86.indexOf("cp311-cp311-manylinux_2_17_x86_64"));
  const at228 = targetTags("python3.11", "x86_64", "2.28");
  assert.equal(bestTagIndex(msgspec, at228), 0);
});

test("abi3 wheels fit newer Pythons, below their own-ABI wheels", () => {
  const crypto = parseWheelName("cryptography-44.0.0-cp39-abi3-manylinux_2_28_aarch64.whl");
  const arm312 = targetTags("python3.12", "arm64");
  const i = bestTagIndex(crypto, arm312);
  assert.equal(i, arm312.indexOf("cp39-abi3-manylinux_2_28_aarch64"));
  assert.equal(bestTagIndex(crypto, py311arm), undefined, "manylinux_2_28 on AL2");
  const own = parseWheelName(
    "cryptography-44.0.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
  );
  assert.ok((bestTagIndex(own, arm312) ?? Infinity) < (i ?? -1));
  const needs34 = parseWheelName("cryptography-50.0.2-cp311-abi3-manylinux_2_34_x86_64.whl");
  assert.equal(bestTagIndex(needs34, py312x86), py312x86.indexOf("cp311-abi3-manylinux_2_34_x86_64"));
  assert.equal(bestTagIndex(needs34, py311x86), undefined);
});

test("pure wheels fit everywhere, last in priority", () => {
  const structlog = parseWheelName("structlog-26.1.0-py3-none-any.whl");
  for (const tags of [py311x86, py311arm, py312x86]) {
    const i = bestTagIndex(structlog, tags);
    assert.equal(i, tags.indexOf("py3-none-any"));
    assert.ok(
      i !== undefined && i > tags.indexOf("cp311-none-any") && i > tags.indexOf("py3-none-linux_x86_64"),
    );
  }
  const six = parseWheelName("six-1.16.0-py2.py3-none-any.whl");
  assert.equal(bestTagIndex(six, py312x86), py312x86.indexOf("py3-none-any"));
  const old = parseWheelName("attrs-19.1.0-py2-none-any.whl");
  assert.equal(bestTagIndex(old, py312x86), undefined, "Python 2 only");
});

test("macOS and Windows wheels never fit, nor do musllinux ones", () => {
  for (const name of [
    "msgspec-0.18.6-cp312-cp312-macosx_11_0_arm64.whl",
    "numpy-2.1.3-cp312-cp312-macosx_14_0_x86_64.whl",
    "numpy-2.1.3-cp312-cp312-win_amd64.whl",
    "numpy-2.1.3-cp312-cp312-musllinux_1_2_x86_64.whl",
  ]) {
    const w = parseWheelName(name);
    assert.equal(bestTagIndex(w, py312x86), undefined, name);
    assert.equal(bestTagIndex(w, targetTags("python3.12", "arm64")), undefined, name);
  }
});

test("a prebuilt TagPriority map gives the same answers", () => {
  const p = tagPriority(py312x86);
  const w = parseWheelName("numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
  assert.equal(bestTagIndex(w, p), bestTagIndex(w, py312x86));
});
