import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { loadProject } from "../../src/config/load.ts";
import { judge } from "../../src/image/explain-path.ts";
import { fixture } from "../config/fixture.ts";

// The exclusions a builder adds to the ignore files' verdict (Builder.excludes), asked through
// the registry: node installs node_modules itself; a command's output and non-inputs are not read.
test("explain --path: each builder's own exclusions, after the ignore files", async (t) => {
  const dir = await fixture(t, {
    "tug.yaml": `
images:
  web:
    builder: node
    entry: server.js
  gen:
    builder: command
    run: make
    output: out
    inputs: [src]
  site:
    builder: files
    dest: /srv
`,
    "server.js": "",
    "src/": "",
  });
  const project = await loadProject(join(dir, "tug.yaml"));
  const target = (name: string) => project.targets.find((x) => x.name === name)!;
  const kept = { excluded: false };
  assert.deepEqual(judge(target("web"), "node_modules/left-pad/index.js", kept), {
    input: false,
    reason: "excluded: the node builder installs node_modules from the lockfile",
  });
  assert.equal(judge(target("web"), "server.js", kept).input, true);
  assert.deepEqual(judge(target("gen"), "out/a.txt", kept), {
    input: false,
    reason: "excluded: it is in the command's output directory",
  });
  assert.deepEqual(judge(target("gen"), "README.md", kept), {
    input: false,
    reason: "not an input: outside inputs: src",
  });
  assert.equal(judge(target("gen"), "src/main.c", kept).input, true);
  // files adds nothing of its own: node_modules is an input like any other file.
  assert.equal(judge(target("site"), "node_modules/x.js", kept).input, true);
  // .git is never read, whatever the builder.
  assert.equal(judge(target("site"), ".git/config", kept).input, false);
});
