import { createHash } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import type { Digest } from "../oci/digest.ts";
import { writeFileAtomic } from "../util/file-write.ts";

type Entry = [size: string, mtimeNs: string, ctimeNs: string, ino: string, digest: Digest];

/**
 * (path, size, mtime, ctime, inode) → content digest, so unchanged files are never re-read.
 * One file per machine-local cache; it never feeds a key directly, only saves re-hashing.
 * A file modified within the last two seconds is not remembered: its mtime may not yet
 * have moved past a same-granularity edit (the "racy git" problem).
 */
export class StatCache {
  private entries = new Map<string, Entry>();
  private dirty = false;
  private readonly file: string;

  private constructor(file: string) {
    this.file = file;
  }

  static async open(cacheRoot: string, scope = "default"): Promise<StatCache> {
    const name = createHash("sha256").update(scope).digest("hex").slice(0, 32);
    const cache = new StatCache(join(cacheRoot, "stat", `${name}.json`));
    try {
      const data = JSON.parse(await fs.readFile(cache.file, "utf8")) as Record<string, Entry>;
      cache.entries = new Map(Object.entries(data));
    } catch {
      // missing or unreadable: start empty, it is only an optimisation
    }
    return cache;
  }

  lookup(abs: string, st: BigIntStats): Digest | undefined {
    const e = this.entries.get(abs);
    if (!e) return undefined;
    if (
      e[0] === String(st.size) &&
      e[1] === String(st.mtimeNs) &&
      e[2] === String(st.ctimeNs) &&
      e[3] === String(st.ino)
    )
      return e[4];
    return undefined;
  }

  remember(abs: string, st: BigIntStats, digest: Digest): void {
    const ageNs = BigInt(Date.now()) * 1_000_000n - st.mtimeNs;
    if (ageNs < 2_000_000_000n) return;
    this.entries.set(abs, [String(st.size), String(st.mtimeNs), String(st.ctimeNs), String(st.ino), digest]);
    this.dirty = true;
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    await writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.entries)));
    this.dirty = false;
  }
}
