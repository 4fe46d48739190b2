// The dev watcher on a real directory: inotify says "something happened to NAME", and the watcher
// decides what: a known path that is gone is a deletion, a path never seen that is already gone
// (an editor's temp file) is nothing, and a new directory's files are changes of their own.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { type WatchEvent, watch } from "../../src/dev/watcher.ts";
import { until } from "../support/http.ts";
import { tempDir } from "../support/tmp.ts";

async function watching(t: TestContext, root: string): Promise<WatchEvent[]> {
  const seen: WatchEvent[] = [];
  const w = await watch(root, { debounceMs: 10, onBatch: (b) => void seen.push(...b) });
  t.after(() => w.close());
  return seen;
}

const rel = (root: string, events: WatchEvent[]) =>
  events.map((e) => `${e.deleted ? "-" : "+"}${e.path.slice(root.length + 1)}`);

test("the watcher: deletions are deletions, a vanished temp file is nothing, new dirs report their files", async (t) => {
  const root = await tempDir(t, "tug-watch-del-");
  await fs.mkdir(join(root, "a", "b"), { recursive: true });
  await fs.writeFile(join(root, "a", "b", "old.txt"), "x");
  await fs.writeFile(join(root, "keep.txt"), "x");
  const seen = await watching(t, root);

  await fs.rm(join(root, "a", "b", "old.txt"));
  await until("the deletion", () => seen.length > 0);
  assert.deepEqual(rel(root, seen), ["-a/b/old.txt"]);

  seen.length = 0;
  await fs.writeFile(join(root, "4913"), ""); // vim's probe file, made and removed at once
  await fs.rm(join(root, "4913"));
  await fs.writeFile(join(root, "keep.txt"), "y");
  await until("the edit", () => seen.some((e) => e.path.endsWith("keep.txt")));
  assert.deepEqual(rel(root, seen), ["+keep.txt"]);

  seen.length = 0;
  await fs.mkdir(join(root, "n1", "n2"), { recursive: true });
  await fs.writeFile(join(root, "n1", "n2", "new.txt"), "z");
  await until("the new file", () => seen.some((e) => e.path.endsWith("new.txt")));
  seen.length = 0;
  await fs.rm(join(root, "n1"), { recursive: true });
  await until("the removal", () => seen.some((e) => e.path.endsWith("n1")));
  assert.ok(
    seen.every((e) => e.deleted),
    JSON.stringify(rel(root, seen)),
  );
});
