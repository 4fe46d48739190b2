import { createHash, randomBytes } from "node:crypto";
import { constants, promises as fs } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { type Digest, hexOf, isDigest } from "../oci/digest.ts";
import { isAlive } from "../util/dead-temps.ts";
import { writeFileAtomic } from "../util/file-write.ts";
import { canonicalJson } from "./key.ts";
import type { RemoteSync } from "./remote-sync.ts";

/** Default cache root: $TUG_CACHE, else $XDG_CACHE_HOME/tug, else ~/.cache/tug. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TUG_CACHE) return env.TUG_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "tug");
}

const RECORD_VERSION = 1;

interface Envelope<T> {
  v: number;
  kind: string;
  value: T;
  /** sha256 of canonicalJson({kind, value}): a truncated or edited record is detected and dropped. */
  check: string;
}

/**
 * The local content-addressed store: blobs by digest (`blobs/sha256/HEX`, the OCI layout shape)
 * and small JSON records by key (`ac/KIND/HE/HEX.json`). Every write goes to a temp file on the
 * same filesystem and is renamed into place, so a killed process leaves either the old entry
 * or the new one, never half of one; two processes writing one key write the same bytes.
 */
export class CacheStore {
  readonly root: string;
  /** Counters for `--json` / tests: how many records were read as hits or misses. */
  readonly stats = { hits: 0, misses: 0, dropped: 0 };
  /** The shared cache behind this one, when configured (read-through, write-back). */
  remote: RemoteSync | undefined;

  constructor(root: string) {
    this.root = root;
  }

  /** The blob's file; a digest that is not `sha256:` + 64 hex never names a path (a bug upstream). */
  blobPath(digest: Digest): string {
    if (!isDigest(digest)) throw new Error(`internal: not a sha256 digest: ${String(digest).slice(0, 80)}`);
    return join(this.root, "blobs", "sha256", hexOf(digest));
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    try {
      await fs.access(this.blobPath(digest), constants.R_OK);
      return true;
    } catch {
      return false;
    }
  }

  /** A fresh temp path inside the cache, for writers that rename into place. */
  async tempPath(hint = "tmp"): Promise<string> {
    const dir = join(this.root, "tmp");
    await fs.mkdir(dir, { recursive: true });
    return join(dir, `${hint}-${process.pid}-${randomBytes(6).toString("hex")}`);
  }

  /**
   * Removes temp files whose writer is gone (kill -9 mid-write leaves them; nothing else
   * would ever reclaim them). The writer's pid is part of every temp name; files of live
   * processes, and names this store did not make, are left alone.
   */
  async sweepTemp(): Promise<void> {
    const dir = join(this.root, "tmp");
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const pid = Number(/-(\d+)-[0-9a-f]{12}$/.exec(name)?.[1]);
      if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) continue;
      await fs.rm(join(dir, name), { recursive: true, force: true });
    }
  }

  /** Moves a fully written and verified temp file to its content address. */
  async ingestBlob(tempFile: string, digest: Digest): Promise<string> {
    const dest = this.blobPath(digest);
    await fs.mkdir(dirname(dest), { recursive: true });
    await fs.rename(tempFile, dest);
    return dest;
  }

  async dropBlob(digest: Digest): Promise<void> {
    await fs.rm(this.blobPath(digest), { force: true });
    this.stats.dropped++;
  }

  private recordPath(kind: string, key: string): string {
    const h = createHash("sha256").update(key).digest("hex");
    return join(this.root, "ac", kind, h.slice(0, 2), `${h}.json`);
  }

  /**
   * Reads a record; a corrupt or foreign one is deleted and reported as a miss. `check` says
   * whether the value has the shape the caller needs (every digest valid, …): a local record
   * that fails it is a miss like a corrupt one, a remote one is ignored with one warning.
   */
  async getRecord<T>(
    kind: string,
    key: string,
    check?: (value: unknown) => value is T,
  ): Promise<T | undefined> {
    const path = this.recordPath(kind, key);
    let text = await fs.readFile(path, "utf8").catch(() => undefined);
    let fromRemote = false;
    if (text === undefined && this.remote) {
      text = await this.remote.getRecord(kind, key);
      fromRemote = text !== undefined;
    }
    if (text === undefined) {
      this.stats.misses++;
      return undefined;
    }
    const value = parseEnvelope<unknown>(kind, text);
    if (value !== undefined && (!check || check(value))) {
      this.stats.hits++;
      if (fromRemote) await writeFileAtomic(path, text);
      return value as T;
    }
    // A corrupt local record is deleted; a foreign or corrupt remote one is simply not used.
    if (!fromRemote) await fs.rm(path, { force: true });
    else this.remote?.ignoreRecord("invalid", `a ${kind} record does not parse or names an invalid digest`);
    this.stats.dropped++;
    this.stats.misses++;
    return undefined;
  }

  async putRecord<T>(kind: string, key: string, value: T): Promise<void> {
    const env: Envelope<T> = { v: RECORD_VERSION, kind, value, check: checkOf(kind, value) };
    const text = JSON.stringify(env);
    await writeFileAtomic(this.recordPath(kind, key), text);
    this.remote?.putRecord(kind, key, text);
  }

  /** Whether a record file on disk is intact (for `tug cache verify`). */
  async checkRecordFile(path: string, kind: string): Promise<boolean> {
    const text = await fs.readFile(path, "utf8").catch(() => undefined);
    return text !== undefined && parseEnvelope(kind, text) !== undefined;
  }

  /** Marks a blob as just used, for `tug cache prune`'s least-recently-used order. */
  touchBlob(digest: Digest): void {
    const now = new Date();
    fs.utimes(this.blobPath(digest), now, now).catch(() => {});
  }

  /**
   * Makes a blob local: true when it already is, or when the remote cache had it (downloaded
   * and verified). Used where a record names a blob, before the blob is trusted to exist.
   */
  async ensureBlob(digest: Digest, size?: number): Promise<boolean> {
    if (await this.hasBlob(digest)) return true;
    if (!this.remote) return false;
    // Downloaded into the cache's tmp/ and renamed only once verified (ingest.ts): a killed run
    // leaves a temp file (swept later), never a wrong or partial blob under its digest.
    const dest = this.blobPath(digest);
    await fs.mkdir(dirname(dest), { recursive: true });
    return this.remote.fetchBlob(digest, dest, { size, temp: await this.tempPath("fetch") });
  }
}

function parseEnvelope<T>(kind: string, text: string): T | undefined {
  try {
    const env = JSON.parse(text) as Envelope<T>;
    if (env.v === RECORD_VERSION && env.kind === kind && env.check === checkOf(kind, env.value))
      return env.value;
  } catch {
    // unparsable
  }
  return undefined;
}

function checkOf(kind: string, value: unknown): string {
  return createHash("sha256").update(canonicalJson({ kind, value })).digest("hex");
}
