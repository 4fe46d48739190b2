import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { TugError } from "../../src/errors.ts";
import { LAMBDA_ARCHES, PYTHON_RUNTIMES } from "../../src/python/runtime.ts";
import { manylinuxPlatforms, tagPriority, targetTags } from "../../src/python/tags.ts";

// Reference lists written by test/lambda/data/gen-tags.py with pip's vendored packaging.
function reference(runtime: string, arch: string): string[] {
  const url = new URL(`./data/tags-${runtime}-${arch}.txt`, import.meta.url);
  return readFileSync(url, "utf8").split("\n").filter(Boolean);
}

for (const runtime of PYTHON_RUNTIMES) {
  for (const arch of LAMBDA_ARCHES) {
    test(`${runtime} ${arch} tags match packaging.tags in order`, () => {
      assert.deepEqual(targetTags(runtime, arch), reference(runtime, arch));
    });
  }
}

test("python3.12 x86_64 starts with its own ABI at the AL2023 ceiling", () => {
  const tags = targetTags("python3.12", "x86_64");
  assert.deepEqual(tags.slice(0, 3), [
    "cp312-cp312-manylinux_2_34_x86_64",
    "cp312-cp312-manylinux_2_33_x86_64",
    "cp312-cp312-manylinux_2_32_x86_64",
  ]);
  assert.deepEqual(tags.slice(-15, -11), [
    "cp312-none-any",
    "py312-none-any",
    "py3-none-any",
    "py311-none-any",
  ]);
  assert.equal(tags.at(-1), "py30-none-any");
  assert.ok(tags.indexOf("cp312-abi3-manylinux_2_17_x86_64") > tags.indexOf("cp312-cp312-linux_x86_64"));
  assert.ok(tags.indexOf("cp311-abi3-manylinux_2_34_x86_64") > tags.indexOf("cp312-none-linux_x86_64"));
  assert.ok(tags.includes("cp32-abi3-manylinux1_x86_64"));
  assert.ok(!tags.includes("cp31-abi3-manylinux1_x86_64"), "abi3 starts at 3.2");
  assert.ok(tags.indexOf("cp312-none-any") < tags.indexOf("py312-none-any"));
  assert.ok(tags.indexOf("py3-none-manylinux1_x86_64") < tags.indexOf("cp312-none-any"));
});

test("legacy manylinux aliases follow their manylinux_2_N twins", () => {
  const x86 = manylinuxPlatforms("x86_64", { major: 2, minor: 26 });
  assert.equal(x86[0], "manylinux_2_26_x86_64");
  assert.deepEqual(
    x86.slice(x86.indexOf("manylinux_2_17_x86_64"), x86.indexOf("manylinux_2_17_x86_64") + 2),
    ["manylinux_2_17_x86_64", "manylinux2014_x86_64"],
  );
  assert.equal(x86[x86.indexOf("manylinux_2_12_x86_64") + 1], "manylinux2010_x86_64");
  assert.deepEqual(x86.slice(-2), ["manylinux_2_5_x86_64", "manylinux1_x86_64"]);
  const arm = manylinuxPlatforms("aarch64", { major: 2, minor: 26 });
  assert.deepEqual(arm.slice(-2), ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]);
  assert.equal(arm.length, 26 - 17 + 1 + 1);
});

test("no musllinux, macOS or Windows tags, and no other architecture", () => {
  for (const arch of LAMBDA_ARCHES) {
    const tags = targetTags("python3.13", arch);
    const other = arch === "x86_64" ? "aarch64" : "x86_64";
    for (const t of tags) {
      assert.doesNotMatch(t, /musllinux|macosx|win|i686/, t);
      assert.ok(!t.includes(other), t);
    }
  }
});

test("a glibc override moves the ceiling", () => {
  const base = targetTags("python3.11", "x86_64");
  const raised = targetTags("python3.11", "x86_64", "2.28");
  assert.ok(!base.includes("cp311-cp311-manylinux_2_28_x86_64"));
  assert.equal(raised[0], "cp311-cp311-manylinux_2_28_x86_64");
  // 25 interpreter/ABI groups (cp311, abi3, none, cp310…cp32-abi3, py311, py3, py310…py30), 2 more platforms each.
  assert.equal(raised.length - base.length, 25 * 2);
  const lowered = targetTags("python3.12", "arm64", { major: 2, minor: 17 });
  assert.equal(lowered[0], "cp312-cp312-manylinux_2_17_aarch64");
});

test("unknown runtimes are TugErrors", () => {
  assert.throws(() => targetTags("python2.7", "x86_64"), TugError);
});

test("tagPriority maps each tag to its index", () => {
  const tags = targetTags("python3.12", "arm64");
  const p = tagPriority(tags);
  assert.equal(p.size, tags.length, "no duplicate tags");
  assert.equal(p.get("cp312-cp312-manylinux_2_34_aarch64"), 0);
  assert.equal(p.get("py3-none-any"), tags.length - 13);
});
