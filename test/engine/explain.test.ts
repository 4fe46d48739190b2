import assert from "node:assert/strict";
import { test } from "node:test";
import { diffInputs, type ExplainRecord } from "../../src/engine/explain.ts";

const rec = (params: ExplainRecord["params"], files: Record<string, string>): ExplainRecord => ({
  key: JSON.stringify([params, files]),
  params,
  files: { context: files },
});

test("explain names each changed, added and removed input", () => {
  const before = rec(
    { node: "20", entry: "src/server.ts" },
    { "src/a.ts": "sha256:aaaaaaaaaaaaaaaa", "src/b.ts": "sha256:b" },
  );
  const after = rec(
    { node: "22", entry: "src/server.ts" },
    { "src/a.ts": "sha256:cccccccccccccccc", "src/c.ts": "sha256:c" },
  );
  assert.deepEqual(diffInputs(before, after), [
    'parameter node: "20" → "22"',
    "src/a.ts: changed (aaaaaaaaaaaa → cccccccccccc)",
    "src/b.ts: removed",
    "src/c.ts: added",
  ]);
  assert.deepEqual(diffInputs(undefined, after), ["no earlier build of this step is recorded in this cache"]);
  assert.deepEqual(diffInputs(after, after), []);
});
