import assert from "node:assert/strict";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { TugError } from "../../src/errors.ts";
import { watchedPaths } from "../../src/lambda/node/build-record.ts";
import { annotatedExports, packageOf } from "../../src/node/bundle.ts";
import { listInstalled, nativeSpecs, npmInstallArgs } from "../../src/node/native-packages.ts";
import { fixture } from "../config/fixture.ts";

test("packageOf names the package a bundle requires, and nothing for builtins", () => {
  assert.equal(packageOf("sharp"), "sharp");
  assert.equal(packageOf("sharp/lib/index.js"), "sharp");
  assert.equal(packageOf("@img/sharp-linux-x64/sharp.node"), "@img/sharp-linux-x64");
  assert.equal(packageOf("@aws-sdk/client-s3"), "@aws-sdk/client-s3");
  assert.equal(packageOf("fs"), undefined);
  assert.equal(packageOf("node:fs"), undefined);
  assert.equal(packageOf("fs/promises"), undefined);
  assert.equal(packageOf("./local.js"), undefined);
});

test("annotatedExports reads esbuild's CommonJS export annotation, plain and minified", () => {
  const plain = `module.exports = __toCommonJS(api_exports);
// Annotate the CommonJS export names for ESM import in node:
0 && (module.exports = {
  handler,
  other
});
//# sourceMappingURL=api.js.map
`;
  assert.deepEqual(annotatedExports(plain), ["handler", "other"]);
  const minified = `var o=()=>1;0&&(module.exports={handler,"weird-name":null});\n`;
  assert.deepEqual(annotatedExports(minified), ["handler", "weird-name"]);
  assert.deepEqual(annotatedExports("console.log(1);\n"), []);
});

test("npm is asked for linux, the lambda's CPU and glibc, without scripts, dev deps or saving", () => {
  const specs = [
    { name: "sharp", spec: "sharp@0.33.5" },
    { name: "local", spec: "file:/src/local" },
  ];
  assert.deepEqual(npmInstallArgs(specs, "arm64"), [
    "install",
    "--os=linux",
    "--cpu=arm64",
    "--libc=glibc",
    "--omit=dev",
    "--no-save",
    "--no-package-lock",
    "--ignore-scripts",
    "--install-links",
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    "sharp@0.33.5",
    "file:/src/local",
  ]);
  assert.ok(npmInstallArgs(specs, "x86_64").includes("--cpu=x64"));
});

async function specsError(t: TestContext, files: Record<string, string>, names: string[]): Promise<TugError> {
  const dir = await fixture(t, files);
  try {
    await nativeSpecs(dir, names, "lambdas.api (tug.yaml:2)");
  } catch (e) {
    assert.ok(e instanceof TugError);
    return e;
  }
  assert.fail("expected an error");
}

test("native package versions come from the lockfile, then file: deps, then what is installed", async (t) => {
  const dir = await fixture(t, {
    "package.json": JSON.stringify({
      dependencies: { sharp: "^0.33.0", linked: "file:packages/linked", loose: "^2.0.0", ranged: "~3.1.0" },
    }),
    "package-lock.json": JSON.stringify({
      packages: {
        "": {},
        "node_modules/sharp": {
          version: "0.33.5",
          resolved: "https://registry.npmjs.org/sharp/-/sharp-0.33.5.tgz",
        },
        "node_modules/linked": { resolved: "packages/linked", link: true },
      },
    }),
    "node_modules/loose/package.json": JSON.stringify({ name: "loose", version: "2.4.1" }),
  });
  assert.deepEqual(await nativeSpecs(dir, ["sharp", "linked", "loose", "ranged"], "here"), [
    { name: "sharp", spec: "sharp@0.33.5" },
    { name: "linked", spec: `file:${join(dir, "packages", "linked")}` },
    { name: "loose", spec: "loose@2.4.1" },
    { name: "ranged", spec: "ranged@~3.1.0" },
  ]);
  const e = await specsError(t, { "package.json": "{}" }, ["ghost"]);
  assert.equal(e.what, "native package ghost is neither installed nor listed in package.json");
  assert.equal(e.where, "lambdas.api (tug.yaml:2)");
});

test("an installed node_modules becomes zip entries and a package list, without npm's bookkeeping", async (t) => {
  const dir = await fixture(t, {
    "node_modules/.package-lock.json": "{}",
    "node_modules/.bin/x": "#!/bin/sh\n",
    "node_modules/a/package.json": JSON.stringify({ name: "a", version: "1.0.0" }),
    "node_modules/a/lib/package.json": JSON.stringify({ name: "not-a-package", version: "9" }),
    "node_modules/a/node_modules/b/package.json": JSON.stringify({ name: "b", version: "2.0.0" }),
    "node_modules/@s/c/package.json": JSON.stringify({ name: "@s/c", version: "3.0.0" }),
    "node_modules/@s/c/c.node": "\x7fELF",
  });
  const { entries, distributions } = await listInstalled(join(dir, "node_modules"));
  assert.deepEqual(entries.map((e) => e.name).sort(), [
    "node_modules/@s/c/c.node",
    "node_modules/@s/c/package.json",
    "node_modules/a/lib/package.json",
    "node_modules/a/node_modules/b/package.json",
    "node_modules/a/package.json",
  ]);
  assert.deepEqual(distributions, [
    { name: "@s/c", version: "3.0.0", wheel: "" },
    { name: "a", version: "1.0.0", wheel: "" },
    { name: "b", version: "2.0.0", wheel: "" },
  ]);
});

test("the rebuild check watches inputs, their directories and the config files esbuild reads", () => {
  const p = "/p";
  const watched = watchedPaths(["/p/src/api.ts", "/p/node_modules/tiny/index.js"], p);
  for (const path of [
    "/p/src/api.ts",
    "/p/src",
    "/p/src/package.json",
    "/p/src/tsconfig.json",
    "/p/tsconfig.json",
    "/p/package.json",
    "/p/package-lock.json",
    "/p/node_modules",
    "/p/node_modules/tiny/index.js",
    "/p/node_modules/tiny/package.json",
  ]) {
    assert.ok(watched.includes(path), path);
  }
  assert.ok(!watched.includes("/package.json"), "stops at the project directory");
  assert.ok(!watched.includes("/p"), "the project directory itself changes with every output written");
});
