// Issue 13 "Conventions" 5: -v/--verbose logs each HTTP request (method, redacted URL, status,
// ms); NO_COLOR/FORCE_COLOR decide colour in the one place that colours (the error prefix).
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { useColor } from "../../src/cli/color.ts";
import { formatHttpLog } from "../../src/util/http-log.ts";
import { runTug } from "../support/cli.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { freePort } from "../support/tools.ts";

test("useColor: FORCE_COLOR forces, NO_COLOR disables, else a terminal that is not dumb", () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };
  assert.equal(useColor(tty, {}), true);
  assert.equal(useColor(pipe, {}), false);
  assert.equal(useColor(tty, { TERM: "dumb" }), false);
  assert.equal(useColor(tty, { NO_COLOR: "1" }), false);
  assert.equal(useColor(tty, { NO_COLOR: "" }), true);
  assert.equal(useColor(pipe, { FORCE_COLOR: "1" }), true);
  assert.equal(useColor(tty, { FORCE_COLOR: "0" }), false);
  assert.equal(useColor(pipe, { FORCE_COLOR: "1", NO_COLOR: "1" }), true);
});

test("formatHttpLog: no password and no query string in the URL", () => {
  const line = formatHttpLog({
    method: "GET",
    url: "https://alice:s3cret@index.example/simple/six/?token=abc",
    status: 200,
    ms: 12.4,
  });
  assert.equal(line, "GET https://alice:****@index.example/simple/six/ 200 12 ms");
  assert.equal(
    formatHttpLog({ method: "HEAD", url: "http://127.0.0.1:1/v2/", error: "ECONNREFUSED", ms: 1 }),
    "HEAD http://127.0.0.1:1/v2/ failed (ECONNREFUSED) 1 ms",
  );
});

test("the error prefix is red with FORCE_COLOR, plain with NO_COLOR and into a pipe", async (t) => {
  const dir = await tempDir(t, "tug-color-");
  const forced = await runTug(["build"], { cwd: dir, env: { FORCE_COLOR: "1" } });
  assert.ok(forced.stderr.startsWith("\x1b[31merror:\x1b[0m no tug.yaml"), JSON.stringify(forced.stderr));
  const plain = await runTug(["build"], { cwd: dir, env: { NO_COLOR: "1" } });
  assert.ok(plain.stderr.startsWith("error: no tug.yaml"), JSON.stringify(plain.stderr));
  const piped = await runTug(["build"], { cwd: dir });
  assert.ok(!piped.stderr.includes("\x1b"), JSON.stringify(piped.stderr));
});

test("tug build -v: one line per registry request with method, URL, status and time; none without -v", async (t) => {
  const registry = await startRegistry(t);
  const dir = await tempDir(t, "tug-verbose-");
  await mkdir(join(dir, "site"));
  await writeFile(join(dir, "site", "index.html"), "<p>v</p>\n");
  await writeFile(
    join(dir, "tug.yaml"),
    "images:\n  site:\n    builder: files\n    context: ./site\n    dest: /srv\n",
  );
  const env = { TUG_CACHE: await tempDir(t, "tug-verbose-cache-"), TUG_REPO: undefined };
  const repo = registry.repo("verbose");
  const r = await runTug(["build", "-v", "--repo", repo, "-q"], { cwd: dir, env });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split("\n").filter((l) => l.startsWith("http: "));
  const url = `http://${repo}`.replace(/\/verbose$/, "");
  assert.ok(
    lines.some((l) => new RegExp(`^http: PUT ${url}/v2/verbose/site/manifests/latest 201 \\d+ ms$`).test(l)),
    lines.join("\n"),
  );
  assert.ok(
    lines.some((l) => /^http: (HEAD|POST) \S+\/v2\/verbose\/site\/blobs\/\S* \d{3} \d+ ms$/.test(l)),
    lines.join("\n"),
  );
  const quiet = await runTug(["build", "--repo", repo, "-q"], { cwd: dir, env });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /^http: /m);
  // A refused connection is logged too, as the global option before the command.
  const closed = await freePort();
  const refused = await runTug(["--verbose", "build", "--repo", `127.0.0.1:${closed}/x`, "-q"], {
    cwd: dir,
    env,
  });
  assert.notEqual(refused.code, 0);
  assert.match(
    refused.stderr,
    new RegExp(`^http: \\w+ http://127\\.0\\.0\\.1:${closed}/\\S* failed \\(ECONNREFUSED\\) \\d+ ms$`, "m"),
  );
});
