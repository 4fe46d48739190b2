import assert from "node:assert/strict";
import { basename } from "node:path";
import { test } from "node:test";
import { detectProject, imageNameFor, ZERO_CONFIG_FILES_DEST } from "../../src/config/index.ts";
import { hostPlatform } from "../../src/config/platform.ts";
import { TugError } from "../../src/errors.ts";
import { fixture } from "./fixture.ts";

test("go.mod makes a go image named after the directory", async (t) => {
  const dir = await fixture(t, { "go.mod": "module x\n", "main.go": "package main\n" });
  const project = await detectProject(dir);
  assert.equal(project.file, undefined);
  assert.equal(project.dir, dir);
  assert.equal(project.targets.length, 1);
  const [target] = project.targets;
  assert.equal(target?.builder, "go");
  if (target?.builder !== "go") return;
  assert.equal(target.name, imageNameFor(basename(dir)));
  assert.equal(target.context, dir);
  assert.equal(target.main, ".");
  assert.equal(target.binary, target.name);
  assert.deepEqual(target.base, { kind: "scratch" });
  assert.deepEqual(target.platforms, [hostPlatform()]);
  assert.match(target.where, /found go\.mod/);
});

test("package.json main is the node entry", async (t) => {
  const dir = await fixture(t, {
    "package.json": '{"main": "./lib/app.js"}',
    "lib/app.js": "",
    "src/index.ts": "",
  });
  const [target] = (await detectProject(dir)).targets;
  assert.equal(target?.builder, "node");
  if (target?.builder !== "node") return;
  assert.equal(target.entry, "lib/app.js");
  assert.equal(target.node, "20");
});

test("without main, the first conventional entry that exists", async (t) => {
  const dir = await fixture(t, { "package.json": "{}", "src/server.ts": "", "index.js": "" });
  const [target] = (await detectProject(dir)).targets;
  assert.equal(target?.builder === "node" && target.entry, "index.js");
});

test("a package.json main that does not exist falls back to conventions", async (t) => {
  const dir = await fixture(t, { "package.json": '{"main": "dist/index.js"}', "src/index.ts": "" });
  const [target] = (await detectProject(dir)).targets;
  assert.equal(target?.builder === "node" && target.entry, "src/index.ts");
});

test("a node project without an entry is a TugError with a hint", async (t) => {
  const dir = await fixture(t, { "package.json": '{"main": "dist/index.js"}' });
  await assert.rejects(detectProject(dir), (e) => {
    assert.ok(e instanceof TugError);
    assert.match(
      e.what,
      /cannot tell which file starts this Node\.js app \(package\.json main dist\/index\.js/,
    );
    assert.match(e.where ?? "", /package\.json$/);
    assert.match(e.hint ?? "", /src\/index\.ts/);
    return true;
  });
});

test("invalid package.json is a TugError", async (t) => {
  const dir = await fixture(t, { "package.json": "{nope" });
  await assert.rejects(detectProject(dir), (e) => e instanceof TugError && /not valid JSON/.test(e.what));
});

test("go.mod wins over package.json", async (t) => {
  const dir = await fixture(t, { "go.mod": "module x\n", "package.json": "{}" });
  assert.equal((await detectProject(dir)).targets[0]?.builder, "go");
});

test("anything else becomes a files image under /app", async (t) => {
  const dir = await fixture(t, { "index.html": "<h1>hi</h1>" });
  const [target] = (await detectProject(dir)).targets;
  assert.equal(target?.builder, "files");
  assert.equal(target?.builder === "files" && target.dest, ZERO_CONFIG_FILES_DEST);
  assert.equal(ZERO_CONFIG_FILES_DEST, "/app");
});

test("a missing directory is a TugError", async () => {
  await assert.rejects(detectProject("/nonexistent/dir"), TugError);
});

test("image names from directory names", () => {
  assert.equal(imageNameFor("My App"), "my-app");
  assert.equal(imageNameFor("_hidden.thing_"), "hidden.thing");
  assert.equal(imageNameFor("web-2"), "web-2");
  assert.equal(imageNameFor("日本"), "app");
  assert.equal(imageNameFor("tug-config-AbC"), "tug-config-abc");
});
