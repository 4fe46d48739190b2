import assert from "node:assert/strict";
import { test } from "node:test";
import type { SourceFile } from "../../src/engine/source-tree.ts";
import { uncoveredBundleInputs } from "../../src/node/bundle-coverage.ts";

const file = (path: string): SourceFile => ({
  path,
  type: "file",
  executable: false,
  size: 1,
  abs: `/ctx/${path}`,
});

test("bundle inputs the key does not cover are named; node_modules, virtual modules and outside paths are not", () => {
  const inputs = Object.fromEntries(
    [
      "src/server.ts",
      "src/generated/api.ts",
      "node_modules/hono/dist/index.js",
      "packages/a/node_modules/x/index.js",
      "<define:process.env>",
      "ns:virtual",
      "../shared/util.ts",
      "./src/extra.ts",
    ].map((p) => [p, {}]),
  );
  assert.deepEqual(uncoveredBundleInputs({ inputs }, [file("src/server.ts")]), [
    "src/extra.ts",
    "src/generated/api.ts",
  ]);
  assert.deepEqual(uncoveredBundleInputs({ inputs: { "src/server.ts": {} } }, [file("src/server.ts")]), []);
});
