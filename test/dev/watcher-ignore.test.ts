// The dev watcher on a real directory with native (inotify) events, filtered by the ignore files.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { type WatchEvent, watch } from "../../src/dev/watcher.ts";
import { DEFAULT_IGNORE } from "../../src/engine/ignore-rules.ts";
import { tempDir } from "../support/tmp.ts";

/** Starts a watcher and returns a function that waits for a batch naming `path`, with all events so far. */
async function watching(t: TestContext, root: string) {
  const seen: string[] = [];
  let waiter: { path: string; done: () => void } | undefined;
  const w = await watch(root, {
    debounceMs: 10,
    ignoreFiles: DEFAULT_IGNORE,
    onBatch: (batch: WatchEvent[]) => {
      seen.push(...batch.map((e) => e.path.slice(root.length + 1)));
      if (waiter && seen.includes(waiter.path)) waiter.done();
    },
  });
  t.after(() => w.close());
  return (path: string) =>
    new Promise<string[]>((resolve) => {
      if (seen.includes(path)) return resolve([...seen]);
      waiter = { path, done: () => resolve([...seen]) };
    });
}

test("the watcher reports kept files, not excluded ones, and always the ignore files", async (t) => {
  const root = await tempDir(t, "tug-watch-ignore-");
  await fs.mkdir(join(root, "secrets"));
  await fs.mkdir(join(root, "sub"));
  await fs.writeFile(join(root, ".dockerignore"), "secrets\n*.log\n.dockerignore\n");
  await fs.writeFile(join(root, "sub", ".gitignore"), "*.tmp\n");
  const seenUntil = await watching(t, root);
  // Written in order: when the kept file's event arrives, the excluded ones would have too.
  await fs.writeFile(join(root, "debug.log"), "x");
  await fs.writeFile(join(root, "secrets", "key.pem"), "x");
  await fs.writeFile(join(root, "sub", "a.tmp"), "x");
  await fs.writeFile(join(root, "index.html"), "x");
  assert.deepEqual(await seenUntil("index.html"), ["index.html"]);
  await fs.writeFile(join(root, ".dockerignore"), "*.log\n");
  assert.ok(
    (await seenUntil(".dockerignore")).includes(".dockerignore"),
    "excluded by itself, still reported",
  );
  // The new rules are live: secrets/ is watched now, its files reported as the changes they are.
  await fs.writeFile(join(root, "debug.log"), "y");
  const after = await seenUntil("secrets/key.pem");
  assert.ok(!after.includes("debug.log"));
  await fs.writeFile(join(root, "secrets", "new.pem"), "y");
  await seenUntil("secrets/new.pem");
});
