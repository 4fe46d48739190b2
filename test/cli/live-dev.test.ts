import assert from "node:assert/strict";
import { test } from "node:test";
import {
  addLog,
  applyPhase,
  applyReport,
  devViewState,
  ensureResource,
  renderDevView,
} from "../../src/cli/live-dev.ts";
import type { UpdateReport } from "../../src/dev/report.ts";

const report = (r: Partial<UpdateReport> & Pick<UpdateReport, "target">): UpdateReport => ({
  action: "start",
  files: [],
  ok: true,
  ms: 420,
  build: 100,
  sync: 0,
  restart: 320,
  ...r,
});
// SGR codes, built from a string so no control character sits in a regex literal.
const SGR = new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, "g");
const opts = { columns: 100, rows: 10, color: false };

test("the table: each resource with runtime, URL, state, last latency and error; logs below", () => {
  const s = devViewState([{ name: "web", runtime: "local", urls: ["http://localhost:8080"] }], 0);
  ensureResource(s, { name: "api", runtime: "podman", urls: [] }, 0);
  applyReport(s, report({ target: "web" }), 1000);
  addLog(s, "web", "listening on 8080");
  const lines = renderDevView(s, { ...opts, now: 3000 });
  assert.deepEqual(lines.slice(0, 3), [
    "RESOURCE  RUNTIME  STATE     URL                    LAST UPDATE        ERROR",
    "web       local    ready     http://localhost:8080  420 ms (2.0s ago)",
    "api       podman   building  -                      -",
  ]);
  assert.match(lines[3]!, /^── logs ─+$/);
  assert.equal(lines[3]!.length, 99);
  assert.equal(lines[4], "web | listening on 8080");
});

test("states: live-updating while an update runs; a failed update of a running version stays ready with its error", () => {
  const s = devViewState([{ name: "web", runtime: "local", urls: [] }], 0);
  applyReport(s, report({ target: "web" }), 10);
  applyPhase(s, "web", "live-updating", 20);
  assert.match(renderDevView(s, { ...opts, now: 30 })[1]!, /^web +local +live-updating /);
  applyReport(
    s,
    report({
      target: "web",
      action: "live-update",
      ok: false,
      error: 'src/a.ts:1:1: ERROR: Expected ";"\n  x',
    }),
    40,
  );
  const row = renderDevView(s, { ...opts, now: 50 })[1]!;
  assert.match(row, /^web +local +ready .*420 ms.*src\/a\.ts:1:1: ERROR: Expected ";" x$/);
  applyReport(s, report({ target: "web", action: "live-update", ms: 90 }), 60);
  assert.match(renderDevView(s, { ...opts, now: 60 })[1]!, /ready .*90 ms \(0\.0s ago\)$/);
});

test("a process that died is crashed; a first start that failed to build is an error", () => {
  const s = devViewState(
    [
      { name: "a", runtime: "local", urls: [] },
      { name: "b", runtime: "local", urls: [] },
    ],
    0,
  );
  applyReport(s, report({ target: "a", ok: false, error: "exited (code 1)", logs: ["boom"] }), 1);
  applyReport(s, report({ target: "b", ok: false, error: "compile error" }), 1);
  const lines = renderDevView(s, { ...opts, now: 2 });
  assert.match(lines[1]!, /^a +local +crashed .*exited \(code 1\)$/);
  assert.match(lines[2]!, /^b +local +error .*compile error$/);
  // An exit after ready that logged nothing is still a crash, not a build error.
  applyReport(s, report({ target: "b", action: "exited", ok: false, error: "exited after it was ready" }), 3);
  assert.match(renderDevView(s, { ...opts, now: 4 })[2]!, /^b +local +crashed /);
});

test("only the newest logs that fit the screen; lines cut to its width", () => {
  const s = devViewState([{ name: "web", runtime: "local", urls: [] }], 0);
  for (let i = 0; i < 50; i++) addLog(s, "web", `line ${i}${i === 49 ? ` ${"x".repeat(200)}` : ""}`);
  const lines = renderDevView(s, { columns: 40, rows: 6, color: false, now: 0 });
  assert.equal(lines.length, 6);
  assert.deepEqual(lines.slice(3, 5), ["web | line 47", "web | line 48"]);
  assert.equal(lines[5]!.length, 39);
  assert.ok(lines[5]!.endsWith("…"));
});

test("an app's own escape codes and control characters never reach the frame", () => {
  const s = devViewState([{ name: "web", runtime: "local", urls: [] }], 0);
  addLog(s, "web", "\x1b[31mred\x1b[0m\tdone\x1b[2J\r");
  assert.equal(renderDevView(s, { ...opts, now: 0 }).at(-1), "web | red  done");
});

test("with colour, only the state cell is painted", () => {
  const s = devViewState([{ name: "web", runtime: "local", urls: [] }], 0);
  applyReport(s, report({ target: "web" }), 0);
  const [, row] = renderDevView(s, { ...opts, color: true, now: 0 });
  assert.ok(row!.includes("\x1b[32mready\x1b[39m"));
  assert.equal(row!.replace(SGR, ""), renderDevView(s, { ...opts, now: 0 })[1]);
});
