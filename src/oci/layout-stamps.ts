import { randomBytes } from "node:crypto";
import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Digest, digestFile, hexOf } from "./digest.ts";
import { errCode } from "./layout.ts";
import { type Artifact, type Image, isIndex } from "./types.ts";

/**
 * What tug saw of each blob file it placed or verified in a layout: size, mtime, ctime and
 * inode. A blob whose stamp still matches is the file tug checked, so it is trusted without
 * hashing; any write to it (even one that keeps size and mtime) changes its ctime, and then it
 * is hashed again and replaced when wrong. Kept beside the layout's own files; tools that read
 * layouts ignore files they do not know.
 */
export const STAMPS_FILE = ".tug-blob-stamps.json";

export type BlobState = "intact" | "missing" | "wrong";

export class BlobStamps {
  private changed = false;

  private constructor(
    readonly dir: string,
    private readonly stamps: Map<string, string>,
  ) {}

  /** The layout's stamps; a missing or unreadable file means none (every blob is hashed once). */
  static async load(dir: string): Promise<BlobStamps> {
    let entries: [string, string][] = [];
    try {
      const parsed = JSON.parse(await readFile(join(dir, STAMPS_FILE), "utf8")) as unknown;
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
        entries = Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === "string");
      }
    } catch {
      // No stamps yet, or a damaged file: trust nothing.
    }
    return new BlobStamps(dir, new Map(entries));
  }

  private path(d: Digest): string {
    return join(this.dir, "blobs", "sha256", hexOf(d));
  }

  /** Whether the blob file has the stamp recorded for it: no I/O but one stat. */
  async matches(d: Digest): Promise<boolean> {
    const now = await stampOf(this.path(d));
    return now !== undefined && this.stamps.get(hexOf(d)) === now;
  }

  /**
   * The blob is there with the right bytes: trusted by stamp, else hashed (and stamped when
   * right). "wrong" means a file is there whose bytes are not the digest's.
   */
  async check(d: Digest, size: number): Promise<BlobState> {
    const now = await stampOf(this.path(d));
    if (now === undefined) return "missing";
    if (this.stamps.get(hexOf(d)) === now) return "intact";
    const { digest, size: actual } = await digestFile(this.path(d));
    if (digest !== d || actual !== size) return "wrong";
    this.set(d, now);
    return "intact";
  }

  /** Records the blob file as tug just wrote (or verified) it. */
  async record(d: Digest): Promise<void> {
    const now = await stampOf(this.path(d));
    if (now !== undefined) this.set(d, now);
  }

  private set(d: Digest, stamp: string): void {
    if (this.stamps.get(hexOf(d)) === stamp) return;
    this.stamps.set(hexOf(d), stamp);
    this.changed = true;
  }

  /** Writes the stamps (by atomic rename) when anything changed. */
  async save(): Promise<void> {
    if (!this.changed) return;
    const tmp = join(this.dir, `${STAMPS_FILE}.tmp-${randomBytes(6).toString("hex")}`);
    try {
      await writeFile(tmp, JSON.stringify(Object.fromEntries(this.stamps)));
      await rename(tmp, join(this.dir, STAMPS_FILE));
      this.changed = false;
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }
}

async function stampOf(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`;
  } catch (e) {
    if (errCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

/** Every blob an artifact consists of: manifests, configs, layers. Answered from records, no I/O. */
export async function blobsOf(artifact: Artifact): Promise<Digest[]> {
  const ofImage = async (image: Image): Promise<Digest[]> => {
    const m = await image.manifest();
    return [await image.digest(), m.config.digest, ...m.layers.map((l) => l.digest)];
  };
  if (!isIndex(artifact)) return ofImage(artifact);
  const out: Digest[] = [await artifact.digest()];
  for (const { image } of await artifact.images()) out.push(...(await ofImage(image)));
  return out;
}

/**
 * Whether every blob of `artifact` in the layout at `dir` is still the file tug stamped: the
 * cheap check a no-op build makes before trusting an output layout (one stat per blob).
 */
export async function layoutBlobsIntact(dir: string, artifact: Artifact): Promise<boolean> {
  const stamps = await BlobStamps.load(dir);
  for (const d of await blobsOf(artifact)) if (!(await stamps.matches(d))) return false;
  return true;
}
