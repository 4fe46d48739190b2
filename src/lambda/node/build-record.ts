import type { BigIntStats } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { hashJson } from "../../engine/key.ts";
import { writeFileAtomic } from "../../util/file-write.ts";
import type { LambdaDistribution } from "../build-python.ts";
import { arrayOf, isCount, isDistribution, isString, isZipDigest, mapOf, shape } from "../record-shape.ts";

/**
 * The no-op fast path of a Node.js lambda: what the last build read, as stat stamps, and the zip
 * it wrote. A rebuild whose configuration key and stamps all match, and whose zip is still the
 * file written then, is done without running esbuild or npm and without touching the zip.
 */
export interface NodeLambdaRecord {
  key: string;
  /** Absolute path → stamp; "" for a path that did not exist (creating it must count as a change). */
  stamps: Record<string, string>;
  /** The zip and its metadata file right after the rename. */
  outputs: Record<string, string>;
  digest: string;
  bytes: number;
  unpackedBytes: number;
  distributions: LambdaDistribution[];
}

const RECORD_VERSION = 1;

/** Whether a value read back from disk is a whole NodeLambdaRecord (its digest checked). */
export const isNodeLambdaRecord = shape({
  key: isString,
  stamps: mapOf(isString),
  outputs: mapOf(isString),
  digest: isZipDigest,
  bytes: isCount,
  unpackedBytes: isCount,
  distributions: arrayOf(isDistribution),
}) as (v: unknown) => v is NodeLambdaRecord;
// A file modified this close to (or after) the bundle started may have changed after esbuild
// read it, within the same timestamp tick: such a build is not recorded (the "racy git" problem).
const RACY_MS = 50;

/** `kind:size:mtime:ctime:inode`, or "" when nothing is there. */
export async function stampOf(path: string): Promise<string> {
  return formatStamp(await stat(path, { bigint: true }).catch(() => undefined));
}

function formatStamp(st: BigIntStats | undefined): string {
  if (!st) return "";
  const kind = st.isDirectory() ? "d" : st.isFile() ? "f" : "o";
  return `${kind}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}`;
}

const CONFIG_FILES = ["package.json", "tsconfig.json", "jsconfig.json"];

/**
 * Paths whose change can change the bundle, besides the bundled files themselves: the directory
 * of each (a new file there can shadow an import: `x.ts` beside `x.js`), the package.json and
 * tsconfig.json files esbuild consults from there up to the project, the lockfile, and the
 * project's node_modules (a new native package changes what is left out of the bundle).
 */
export function watchedPaths(inputs: string[], projectDir: string, extra: string[] = []): string[] {
  const paths = new Set<string>([
    ...inputs,
    ...extra,
    join(projectDir, "package-lock.json"),
    join(projectDir, "node_modules"),
  ]);
  const visited = new Set<string>();
  for (const input of inputs) {
    let dir = dirname(input);
    paths.add(dir);
    const inside = !relative(projectDir, dir).startsWith("..");
    for (;;) {
      if (visited.has(dir)) break;
      visited.add(dir);
      for (const f of CONFIG_FILES) paths.add(join(dir, f));
      if (!inside || dir === projectDir || dirname(dir) === dir) break;
      dir = dirname(dir);
    }
  }
  return [...paths].sort();
}

function recordPath(cacheDir: string, zipPath: string): string {
  return join(cacheDir, "lambda-node", `${hashJson({ v: RECORD_VERSION, zipPath }).slice(0, 32)}.json`);
}

/** The record of `zipPath` when it still describes what `key` would build, else undefined. */
export async function freshRecord(o: {
  cacheDir: string;
  zipPath: string;
  key: string;
}): Promise<NodeLambdaRecord | undefined> {
  let record: unknown;
  try {
    record = JSON.parse(await readFile(recordPath(o.cacheDir, o.zipPath), "utf8"));
  } catch {
    return undefined;
  }
  // A corrupt record is a miss: nothing in it is taken as a digest, a path or a stamp.
  if (!isNodeLambdaRecord(record) || record.key !== o.key) return undefined;
  const all = { ...record.stamps, ...record.outputs };
  const now = await Promise.all(Object.keys(all).map(stampOf));
  return Object.values(all).every((want, i) => now[i] === want) ? record : undefined;
}

/**
 * Records a build whose zip was just renamed into place. `since` is the wall clock when the
 * bundle started; a file modified after it was maybe edited while esbuild read it, and then
 * nothing is recorded: the next build runs again instead of trusting the stamps.
 */
export async function saveRecord(o: {
  cacheDir: string;
  zipPath: string;
  key: string;
  watched: string[];
  since: number;
  result: Pick<NodeLambdaRecord, "digest" | "bytes" | "unpackedBytes" | "distributions">;
}): Promise<void> {
  const stats = await Promise.all(o.watched.map((p) => stat(p, { bigint: true }).catch(() => undefined)));
  const racy = BigInt(Math.floor(o.since - RACY_MS)) * 1_000_000n;
  // A file or directory changed while bundling (a new x.ts next to the x.js esbuild picked):
  // its stamp may already be the new one, so nothing is recorded and the next build bundles again.
  if (stats.some((st) => st !== undefined && st.mtimeNs >= racy)) return;
  const stamps = Object.fromEntries(o.watched.map((p, i) => [p, formatStamp(stats[i])]));
  const outputs: Record<string, string> = {};
  for (const p of [o.zipPath, `${o.zipPath}.json`]) outputs[p] = await stampOf(p);
  const record: NodeLambdaRecord = { key: o.key, stamps, outputs, ...o.result };
  await writeFileAtomic(recordPath(o.cacheDir, o.zipPath), JSON.stringify(record));
}
