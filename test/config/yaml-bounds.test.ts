import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDocument } from "yaml";
import {
  boundedToJS,
  documentDepthProblem,
  scanYamlBounds,
  YAML_LIMITS,
} from "../../src/config/yaml-bounds.ts";

test("an ordinary tug.yaml passes every bound", () => {
  const text =
    "x-env: &env {A: 1}\nimages:\n  app:\n    builder: go\n    env: *env\n    ports: [8080, '9090']\n";
  assert.equal(scanYamlBounds(text), undefined);
  const doc = parseDocument(text, { merge: true });
  assert.equal(documentDepthProblem(doc), undefined);
  assert.deepEqual(boundedToJS(doc), {
    value: { "x-env": { A: 1 }, images: { app: { builder: "go", env: { A: 1 }, ports: [8080, "9090"] } } },
  });
});

test("the token scan stops at the node limit and says where", () => {
  const text = `a: [${Array(YAML_LIMITS.nodes + 10)
    .fill("1")
    .join(",")}]`;
  const p = scanYamlBounds(text);
  assert.match(p?.what ?? "", /more than 50000 values/);
  assert.ok((p?.offset ?? 0) > 50_000 && (p?.offset ?? 0) < text.length);
});

test("bracket nesting is caught by the scan, block nesting by the walk", () => {
  assert.match(scanYamlBounds(`a: ${"[".repeat(65)}${"]".repeat(65)}`)?.what ?? "", /64 levels/);
  assert.equal(scanYamlBounds(`a: ${"[".repeat(63)}${"]".repeat(63)}`), undefined);
  const block = parseDocument(`a:\n  ${"- ".repeat(70)}1\n`);
  assert.match(documentDepthProblem(block)?.what ?? "", /64 levels/);
});

test("an alias bomb is a problem located at its first alias, not a ReferenceError", () => {
  let text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (let i = 1; i < 6; i++)
    text += `a${i}: &a${i} [${Array(10)
      .fill(`*a${i - 1}`)
      .join(", ")}]\n`;
  const doc = parseDocument(text);
  const r = boundedToJS(doc);
  assert.ok("problem" in r);
  assert.match(r.problem.what, /alias bomb/);
  assert.equal(r.problem.offset, text.indexOf("*a0"));
});
