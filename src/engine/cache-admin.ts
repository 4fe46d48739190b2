import { promises as fs } from "node:fs";
import { join } from "node:path";
import { digestFile } from "../oci/digest.ts";
import { writeFileAtomic } from "../util/file-write.ts";
import type { CacheStore } from "./cache-store.ts";

export interface BuildLogEntry {
  at: string;
  hits: number;
  misses: number;
  remoteHits: number;
  remoteMisses: number;
  blobsFetched: number;
  blobsPut: number;
}

export interface CacheStats {
  root: string;
  blobs: { count: number; bytes: number };
  records: Record<string, number>;
  /** The last builds' record hit rates, newest last. */
  builds: BuildLogEntry[];
}

const LOG_FILE = "builds.json";
const LOG_KEEP = 20;

/** Appends this build's counters to the cache's small build log (`tug cache stats` reads it). */
export async function logBuild(store: CacheStore): Promise<void> {
  const r = store.remote?.stats;
  const entry: BuildLogEntry = {
    at: new Date().toISOString(),
    hits: store.stats.hits,
    misses: store.stats.misses,
    remoteHits: r?.recordHits ?? 0,
    remoteMisses: r?.recordMisses ?? 0,
    blobsFetched: r?.blobsFetched ?? 0,
    blobsPut: r?.blobsPut ?? 0,
  };
  const file = join(store.root, LOG_FILE);
  const log = await readLog(file);
  await writeFileAtomic(file, JSON.stringify([...log, entry].slice(-LOG_KEEP)));
}

async function readLog(file: string): Promise<BuildLogEntry[]> {
  try {
    const v = JSON.parse(await fs.readFile(file, "utf8")) as unknown;
    return Array.isArray(v) ? (v as BuildLogEntry[]) : [];
  } catch {
    return [];
  }
}

async function* blobFiles(store: CacheStore): AsyncGenerator<{ path: string; name: string }> {
  const dir = join(store.root, "blobs", "sha256");
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (/^[a-f0-9]{64}$/.test(name)) yield { path: join(dir, name), name };
  }
}

async function* recordFiles(store: CacheStore): AsyncGenerator<{ path: string; kind: string }> {
  const ac = join(store.root, "ac");
  for (const kind of await fs.readdir(ac).catch(() => [] as string[])) {
    for (const shard of await fs.readdir(join(ac, kind)).catch(() => [] as string[])) {
      for (const f of await fs.readdir(join(ac, kind, shard)).catch(() => [] as string[])) {
        if (f.endsWith(".json")) yield { path: join(ac, kind, shard, f), kind };
      }
    }
  }
}

export async function cacheStats(store: CacheStore): Promise<CacheStats> {
  const blobs = { count: 0, bytes: 0 };
  for await (const b of blobFiles(store)) {
    const st = await fs.stat(b.path).catch(() => undefined);
    if (!st) continue;
    blobs.count++;
    blobs.bytes += st.size;
  }
  const records: Record<string, number> = {};
  for await (const r of recordFiles(store)) records[r.kind] = (records[r.kind] ?? 0) + 1;
  return { root: store.root, blobs, records, builds: await readLog(join(store.root, LOG_FILE)) };
}

/**
 * Deletes least recently used blobs (by mtime: a cache hit touches its blob) until the blobs
 * fit in `maxBytes`. Blobs used in the last `graceMs` are never deleted, so a build running
 * meanwhile keeps what it is using; records whose blob is gone simply miss and rebuild.
 */
export async function pruneCache(
  store: CacheStore,
  maxBytes: number,
  graceMs = 10 * 60_000,
): Promise<{ deleted: number; freed: number; kept: number }> {
  const all: Array<{ path: string; size: number; mtime: number }> = [];
  let total = 0;
  for await (const b of blobFiles(store)) {
    const st = await fs.stat(b.path).catch(() => undefined);
    if (!st) continue;
    all.push({ path: b.path, size: st.size, mtime: st.mtimeMs });
    total += st.size;
  }
  all.sort((a, b) => a.mtime - b.mtime);
  const cutoff = Date.now() - graceMs;
  let deleted = 0;
  let freed = 0;
  for (const b of all) {
    if (total - freed <= maxBytes) break;
    if (b.mtime > cutoff) break; // everything after this is newer still
    await fs.rm(b.path, { force: true });
    deleted++;
    freed += b.size;
  }
  return { deleted, freed, kept: total - freed };
}

/** Re-hashes every blob and re-checks every record; bad ones are deleted. */
export async function verifyCache(
  store: CacheStore,
): Promise<{ blobs: number; records: number; dropped: string[] }> {
  const dropped: string[] = [];
  let blobs = 0;
  let records = 0;
  for await (const b of blobFiles(store)) {
    blobs++;
    const { digest } = await digestFile(b.path);
    if (digest !== `sha256:${b.name}`) {
      await fs.rm(b.path, { force: true });
      dropped.push(`blob sha256:${b.name}`);
    }
  }
  for await (const r of recordFiles(store)) {
    records++;
    if (!(await store.checkRecordFile(r.path, r.kind))) {
      await fs.rm(r.path, { force: true });
      dropped.push(`${r.kind} record ${r.path.slice(store.root.length + 1)}`);
    }
  }
  return { blobs, records, dropped };
}

export function parseSize(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(s.trim());
  if (!m) return undefined;
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[
    m[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"
  ];
  return Math.floor(Number(m[1]) * mult);
}
