import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { detectProject, loadProject } from "../../src/config/index.ts";
import { isTugError } from "../../src/errors.ts";
import { fixture } from "./fixture.ts";

test("an unset base: host:node for node (a bundle cannot start on scratch), scratch for the others", async (t) => {
  const dir = await fixture(t, {
    "tug.yaml":
      "images:\n  api:\n    builder: go\n  web:\n    builder: node\n    entry: index.ts\n  site:\n    builder: files\n    dest: /srv\n  pinned:\n    builder: node\n    entry: index.ts\n    base: host:nodejs\n",
    "index.ts": "",
  });
  const byName = Object.fromEntries(
    (await loadProject(join(dir, "tug.yaml"))).targets.map((x) => [x.name, x.base]),
  );
  assert.deepEqual(byName, {
    api: { kind: "scratch" },
    web: { kind: "host", program: "node" },
    site: { kind: "scratch" },
    pinned: { kind: "host", program: "nodejs" },
  });
  const zero = await fixture(t, { "package.json": '{"main":"index.js"}', "index.js": "" });
  assert.deepEqual((await detectProject(zero)).targets[0]?.base, { kind: "host", program: "node" });
});

test("host: needs a program name", async (t) => {
  for (const bad of ["host:", "host:../node", "host:a b"]) {
    const dir = await fixture(t, {
      "tug.yaml": `images:\n  web:\n    builder: files\n    dest: /x\n    base: "${bad}"\n`,
    });
    await assert.rejects(loadProject(join(dir, "tug.yaml")), (e) => {
      assert.ok(isTugError(e), String(e));
      assert.match(`${e.what} ${e.hint}`, /host: needs a program name on PATH/);
      return true;
    });
  }
});
