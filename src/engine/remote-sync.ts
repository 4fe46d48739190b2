import { createHash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import { Transform } from "node:stream";
import type { Digest } from "../oci/digest.ts";
import type { RemoteCache } from "../remote/remote-cache.ts";
import { pipeToFile } from "./file-write.ts";
import { Limiter } from "./limiter.ts";

export type RemoteMode = "read" | "readwrite" | "off";

/** Record kinds that are portable between machines: their keys hold no paths, hosts or times. */
// Portable records only: what they say holds on any machine. Lambda output records hold local
// stamps and stay local; wheel tables are rebuilt from the (verified) wheel in milliseconds and
// stay local; resolution locks travel (each wheel they name is verified by sha256 when fetched),
// except those for an index URL with credentials in it ("python-lock-local").
export const SHARED_KINDS = new Set(["layer", "desc", "diff", "python-lock"]);

export interface RemoteStats {
  recordHits: number;
  recordMisses: number;
  blobsFetched: number;
  recordsPut: number;
  blobsPut: number;
}

/**
 * Read-through and write-back between the local store and a shared cache server. Every remote
 * failure (down, slow, 5xx, a body that does not match its digest) degrades to local-only with
 * one warning; nothing read is trusted before it verifies. Uploads run in the background on
 * their own small pool and are awaited, up to a deadline, when the build ends.
 */
export class RemoteSync {
  readonly stats: RemoteStats = {
    recordHits: 0,
    recordMisses: 0,
    blobsFetched: 0,
    recordsPut: 0,
    blobsPut: 0,
  };
  private disabled = false;
  private readonly uploads = new Limiter(4);
  private readonly pending = new Set<Promise<void>>();
  private readonly queuedBlobs = new Set<Digest>();

  constructor(
    private readonly remote: RemoteCache,
    private readonly mode: Exclude<RemoteMode, "off">,
    private readonly warn: (message: string) => void,
  ) {}

  get name(): string {
    return this.remote.name;
  }

  /** The remote AC key of a local record: sha256 of kind and key, so it fits `/ac/HEX`. */
  static recordKey(kind: string, key: string): string {
    return createHash("sha256").update(`tug-record-v1|${kind}|${key}`).digest("hex");
  }

  async getRecord(kind: string, key: string): Promise<string | undefined> {
    if (this.disabled || !SHARED_KINDS.has(kind)) return undefined;
    const body = await this.guard(`read a ${kind} record`, () =>
      this.remote.getRecord(RemoteSync.recordKey(kind, key)),
    );
    if (body) this.stats.recordHits++;
    else this.stats.recordMisses++;
    return body?.toString("utf8");
  }

  /** Downloads a blob into `dest`, verifying its digest; false when unavailable or wrong. */
  async fetchBlob(digest: Digest, dest: string): Promise<boolean> {
    if (this.disabled) return false;
    const ok = await this.guard(`download ${digest}`, async () => {
      const stream = await this.remote.getBlob(digest);
      if (!stream) return false;
      const hash = createHash("sha256");
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          cb(null, chunk);
        },
      });
      await pipeToFile(stream, [tap], dest);
      if (`sha256:${hash.digest("hex")}` !== digest) {
        throw new Error(`it served bytes that do not match ${digest}`);
      }
      return true;
    });
    if (!ok) await fs.rm(dest, { force: true });
    else this.stats.blobsFetched++;
    return ok === true;
  }

  putRecord(kind: string, key: string, envelope: string): void {
    if (this.mode !== "readwrite" || this.disabled || !SHARED_KINDS.has(kind)) return;
    this.background(`upload a ${kind} record`, async () => {
      await this.remote.putRecord(RemoteSync.recordKey(kind, key), Buffer.from(envelope));
      this.stats.recordsPut++;
    });
  }

  putBlob(digest: Digest, size: number, path: string): void {
    if (this.mode !== "readwrite" || this.disabled || this.queuedBlobs.has(digest)) return;
    this.queuedBlobs.add(digest);
    this.background(`upload ${digest}`, async () => {
      let opened = false;
      await this.remote.putBlob(digest, size, async () => {
        opened = true;
        return createReadStream(path);
      });
      if (opened) this.stats.blobsPut++;
    });
  }

  /** Waits for background uploads, at most `deadlineMs`; what is left is abandoned with a warning. */
  async flush(deadlineMs = 30_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"late">((r) => {
      timer = setTimeout(() => r("late"), deadlineMs);
    });
    while (this.pending.size > 0) {
      const r = await Promise.race([Promise.all([...this.pending]), timeout]);
      if (r === "late") {
        this.warn(
          `remote cache ${this.name}: ${this.pending.size} uploads still running after ${deadlineMs} ms; left behind`,
        );
        break;
      }
    }
    clearTimeout(timer);
    await this.remote.close();
  }

  private background(what: string, task: () => Promise<void>): void {
    const p: Promise<void> = this.uploads
      .run(() => (this.disabled ? Promise.resolve() : this.guard(what, task).then(() => undefined)))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Runs a remote operation; the first failure disables the remote for this process, once. */
  private async guard<T>(what: string, op: () => Promise<T>): Promise<T | undefined> {
    if (this.disabled) return undefined;
    try {
      return await op();
    } catch (e) {
      if (!this.disabled) {
        this.disabled = true;
        const reason = e instanceof Error ? e.message : String(e);
        this.warn(
          `remote cache ${this.name} failed to ${what} (${reason}); continuing with the local cache only`,
        );
      }
      return undefined;
    }
  }
}
