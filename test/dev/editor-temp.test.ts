// Editors' save dances, done for real on a watched directory (vim's probe, swap and backup files,
// Emacs's lock link, `sed -i`, a write-then-rename): only the edited file is a change.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { DevConfig, ImageTarget } from "../../src/config/types.ts";
import { isEditorTemp } from "../../src/dev/editor-temp.ts";
import { planChanges } from "../../src/dev/planner.ts";
import { type WatchEvent, watch } from "../../src/dev/watcher.ts";
import { DEFAULT_IGNORE } from "../../src/engine/ignore-rules.ts";
import { until } from "../support/http.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";

test("editor temp files never reach the watcher's change lists", async (t) => {
  const root = await tempDir(t, "tug-watch-editor-");
  await fs.writeFile(join(root, "app.js"), "one\n");
  await fs.writeFile(join(root, "conf.txt"), "a=1\n");
  const seen: WatchEvent[] = [];
  // Debounce 0: every event settles on its own, so a temp file is still there when looked at.
  const w = await watch(root, {
    debounceMs: 0,
    ignoreFiles: DEFAULT_IGNORE,
    onBatch: (b) => void seen.push(...b),
  });
  t.after(() => w.close());

  // vim (backupcopy=no): probe file, swap file, backup by rename, new file, backup removed.
  await fs.writeFile(join(root, "4913"), "");
  await fs.writeFile(join(root, ".app.js.swp"), "swap");
  await fs.writeFile(join(root, ".app.js.swx"), "swap");
  await fs.rm(join(root, "4913"));
  await fs.rename(join(root, "app.js"), join(root, "app.js~"));
  await fs.writeFile(join(root, "app.js"), "two\n");
  await fs.rm(join(root, "app.js~"));
  // Emacs's lock link and auto-save file.
  await fs.symlink("user@host.1234:1", join(root, ".#app.js"));
  await fs.writeFile(join(root, "#app.js#"), "auto");
  // sed -i writes sedXXXXXX next to the file and renames it over the file.
  await runTool("sed", ["-i", "s/a=1/a=2/", join(root, "conf.txt")]);
  // An atomic writer: app.js.tmp renamed onto the file.
  await fs.writeFile(join(root, "app.js.tmp"), "three\n");
  await fs.rename(join(root, "app.js.tmp"), join(root, "app.js"));
  await fs.writeFile(join(root, "done.txt"), "x");

  await until("the last write", () => seen.some((e) => e.path.endsWith("done.txt")));
  const names = [...new Set(seen.map((e) => e.path.slice(root.length + 1)))].sort();
  assert.deepEqual(names, ["app.js", "conf.txt", "done.txt"]);
});

test("editor temp names: matched by name, and dropped by the planner too", () => {
  for (const n of ["4913", ".x.swp", ".x.swx", "x.swp", "x~", ".#x", "sedA1b2C3", "x.tmp", "#x#"]) {
    assert.ok(isEditorTemp(n), n);
  }
  for (const n of ["app.js", "sed.js", "sedimentary", "4914", "swp.ts", "tmp", "x.tmpl"]) {
    assert.ok(!isEditorTemp(n), n);
  }
  const dev: DevConfig = {
    runtime: "local",
    fallBackOn: [],
    sync: [],
    run: [],
    restart: true,
    manifests: [],
  };
  const target = {
    name: "web",
    where: "images.web",
    context: "/ctx",
    base: { kind: "scratch" },
    platforms: [{ os: "linux", architecture: "amd64" }],
    env: {},
    ports: [],
    labels: {},
    annotations: {},
    tags: ["latest"],
    builder: "files",
    files: [],
    dev,
  } as unknown as ImageTarget;
  const plan = planChanges(target, [
    { path: "src/.a.ts.swp", deleted: false },
    { path: "src/a.ts~", deleted: true },
    { path: "4913", deleted: true },
    { path: "sedXyZ123", deleted: false },
  ]);
  assert.equal(plan.action, "none");
});
