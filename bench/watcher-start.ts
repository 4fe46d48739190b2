// Watcher start-up on a 100k-file tree, same tree, one run: tug's watcher (one inotify watch per
// directory, set up without stat-ing files) vs @parcel/watcher (the library the brief named; it
// stats every file up front) vs Node's own recursive fs.watch.
// Run: node --import tsx bench/watcher-start.ts
import { promises as fs, watch as fsWatch } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { watch } from "../src/dev/watcher.ts";

const DIRS = 500;
const FILES = 200;

async function makeTree(): Promise<string> {
  const root = await fs.mkdtemp(join(tmpdir(), "tug-watch-bench-"));
  for (let d = 0; d < DIRS; d++) {
    const dir = join(root, `d${d}`);
    await fs.mkdir(dir);
    await Promise.all(Array.from({ length: FILES }, (_, f) => fs.writeFile(join(dir, `f${f}.ts`), "x")));
  }
  return root;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeTug(root: string): Promise<number> {
  const t0 = performance.now();
  const w = await watch(root, { onBatch: () => {} });
  const ms = performance.now() - t0;
  await w.close();
  return ms;
}

async function timeParcel(root: string): Promise<number> {
  const { subscribe } = await import("@parcel/watcher");
  const t0 = performance.now();
  const sub = await subscribe(root, () => {});
  const ms = performance.now() - t0;
  await sub.unsubscribe();
  return ms;
}

async function timeFsWatch(root: string): Promise<number> {
  const t0 = performance.now();
  const w = fsWatch(root, { recursive: true });
  // Node's recursive watch on Linux sets up its per-directory watchers asynchronously;
  // a change made right after start is seen only once that walk is done. Probe for it.
  const probe = join(root, `d${DIRS - 1}`, "probe.ts");
  const seen = new Promise<void>((resolve) =>
    w.on("change", (_e, f) => String(f).endsWith("probe.ts") && resolve()),
  );
  const poke = setInterval(() => void fs.writeFile(probe, String(Date.now())), 5);
  await seen;
  clearInterval(poke);
  const ms = performance.now() - t0;
  w.close();
  await fs.rm(probe, { force: true });
  return ms;
}

const root = await makeTree();
try {
  const runs = 5;
  const tug: number[] = [];
  const parcel: number[] = [];
  const node: number[] = [];
  for (let i = 0; i < runs; i++) {
    tug.push(await timeTug(root));
    parcel.push(await timeParcel(root));
    node.push(await timeFsWatch(root));
  }
  const [a, p, b] = [median(tug), median(parcel), median(node)];
  console.log(`watcher start-up, ${DIRS * FILES} files in ${DIRS} directories, median of ${runs}`);
  console.log("| watcher | median ms | min | max |");
  console.log("|---|---|---|---|");
  console.log(
    `| tug (inotify per directory) | ${a.toFixed(0)} | ${Math.min(...tug).toFixed(0)} | ${Math.max(...tug).toFixed(0)} |`,
  );
  console.log(
    `| @parcel/watcher | ${p.toFixed(0)} | ${Math.min(...parcel).toFixed(0)} | ${Math.max(...parcel).toFixed(0)} |`,
  );
  console.log(
    `| node fs.watch recursive (until a change is seen) | ${b.toFixed(0)} | ${Math.min(...node).toFixed(0)} | ${Math.max(...node).toFixed(0)} |`,
  );
  console.log(
    `ratios: @parcel/watcher / tug = ${(p / a).toFixed(1)}x, fs.watch recursive / tug = ${(b / a).toFixed(1)}x`,
  );
} finally {
  await fs.rm(root, { recursive: true, force: true });
}
