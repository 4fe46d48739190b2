// esbuild's failures as one TugError, with the fix for the failures users meet in real apps.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { NodeTarget } from "../../src/config/types.ts";
import { isTugError } from "../../src/errors.ts";
import { esbuildError } from "../../src/node/esbuild-api.ts";

const target = { name: "api", entry: "src/main.ts", where: "images.api" } as NodeTarget;

const failure = (text: string) => ({
  errors: [{ text, location: { file: "node_modules/x/index.js", line: 3, column: 7 } }],
});

test("a native addon esbuild cannot load names the way out (install it in the context)", () => {
  const e = esbuildError(
    failure('No loader is configured for ".node" files: ../../node_modules/x/x.node'),
    target,
  );
  assert.ok(isTugError(e));
  assert.equal(e.where, "node_modules/x/index.js:3:7");
  assert.match(e.format(), /install-strategy=nested/);
});

test("import.meta in CommonJS output says how to keep it", () => {
  const e = esbuildError(
    failure('"import.meta" is not available with the "cjs" output format and will be empty'),
    target,
  );
  assert.ok(isTugError(e));
  assert.match(e.format(), /make the app ESM/);
  assert.doesNotMatch(e.format(), /install-strategy/);
});
