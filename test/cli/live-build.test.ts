import assert from "node:assert/strict";
import { test } from "node:test";
import { applyBuildEvent, buildViewState, renderBuildView, summaryLine } from "../../src/cli/live-build.ts";

// SGR codes, built from a string so no control character sits in a regex literal.
const SGR = new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, "g");
const opts = { columns: 80, rows: 20, color: false };

test("one line per running step with its elapsed time, oldest first, and a summary of the finished", () => {
  const s = buildViewState(0);
  applyBuildEvent(s, { type: "step-start", target: "api", step: "go build linux/amd64" }, 100);
  applyBuildEvent(s, { type: "step-start", target: "web", step: "base linux/amd64" }, 200);
  applyBuildEvent(s, { type: "step-start", target: "web", step: "files" }, 300);
  applyBuildEvent(s, { type: "step-end", target: "web", step: "files", ms: 5, cached: true }, 400);
  const lines = renderBuildView(s, { ...opts, now: 2600 });
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^. api {2}go build linux\/amd64 +2\.5s$/);
  assert.match(lines[1]!, /^. web {2}base linux\/amd64 +2\.4s$/);
  assert.equal(lines[2], "· 1 step done (1 cached)  2.6s");
  for (const l of lines) assert.ok(l.length <= 79, l);
});

test("a transfer shows bytes done of total and the rate over the last seconds", () => {
  const s = buildViewState(0);
  applyBuildEvent(s, { type: "step-start", target: "web", step: "publish" }, 0);
  applyBuildEvent(s, { type: "bytes", target: "web", step: "publish", done: 1 << 20, total: 10 << 20 }, 1000);
  applyBuildEvent(s, { type: "bytes", target: "web", step: "publish", done: 3 << 20, total: 10 << 20 }, 2000);
  const [line] = renderBuildView(s, { ...opts, now: 2000 });
  assert.match(line!, /web {2}publish +3\.0 MiB\/10\.0 MiB {2}2\.0 MiB\/s {2}2\.0s$/);
});

test("bytes of a step that is not running are ignored, and finished steps leave only the summary", () => {
  const s = buildViewState(0);
  applyBuildEvent(s, { type: "bytes", target: "web", step: "publish", done: 5, total: 10 }, 10);
  applyBuildEvent(s, { type: "step-start", target: "web", step: "publish" }, 20);
  applyBuildEvent(s, { type: "step-end", target: "web", step: "publish", ms: 5, cached: false }, 30);
  assert.deepEqual(renderBuildView(s, { ...opts, now: 1500 }), ["✓ 1 step done  1.5s"]);
  assert.equal(summaryLine(s, 61_000, false), "✓ 1 step done  1m01s");
});

test("a long step name is cut to the width, never the figures; too many steps end in a count", () => {
  const s = buildViewState(0);
  for (let i = 0; i < 10; i++)
    applyBuildEvent(s, { type: "step-start", target: `t${i}`, step: "x".repeat(200) }, i);
  const lines = renderBuildView(s, { columns: 40, rows: 5, color: false, now: 1000 });
  assert.equal(lines.length, 5);
  assert.match(lines[0]!, /^. t0 {2}x+… +1\.0s$/);
  assert.ok(lines.slice(0, 3).every((l) => l.length === 39));
  assert.equal(lines[3], "  … 7 more running");
});

test("colour only when asked: SGR codes around the mark and the figures", () => {
  const s = buildViewState(0);
  applyBuildEvent(s, { type: "step-start", target: "web", step: "files" }, 0);
  const plain = renderBuildView(s, { ...opts, now: 500 });
  const colored = renderBuildView(s, { ...opts, color: true, now: 500 });
  assert.ok(plain.every((l) => !l.includes("\x1b[")));
  assert.ok(colored[0]!.includes("\x1b[36m") && colored[0]!.includes("\x1b[2m0.5s\x1b[22m"));
  assert.deepEqual(
    colored.map((l) => l.replace(SGR, "")),
    plain,
  );
});
