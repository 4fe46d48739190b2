import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { type Digest, isDigest } from "../oci/digest.ts";
import { OversizedRecordError, type RemoteCache, remoteTimeouts } from "../remote/remote-cache.ts";
import { Limiter } from "../util/limiter.ts";
import { ingest } from "./ingest.ts";
import { openRecord, sealRecord } from "./record-signature.ts";

export type RemoteMode = "read" | "readwrite" | "off";

/** Record kinds that are portable between machines: their keys hold no paths, hosts or times. */
// Portable records only: what they say holds on any machine. Lambda output records hold local
// stamps and stay local; wheel tables are rebuilt from the (verified) wheel in milliseconds and
// stay local; resolution locks travel (each wheel they name is verified by sha256 when fetched),
// except those for an index URL with credentials in it ("python-lock-local"). The npm packages
// a bundle inlined travel with the bundle layer: without them, an image whose bundle came from
// the shared cache would get an SBOM that silently lists none. Likewise the shared libraries a
// layer's ELF files need ("layer-elf", read from the wheels when the layer was written): without
// them a deps layer from the shared cache would skip the image's library check. What a node
// bundle read outside its context ("node-bundle-scope") spares a fresh clone a bundle per image.
export const SHARED_KINDS = new Set([
  "layer",
  "desc",
  "diff",
  "python-lock",
  "npm-bundled",
  "layer-elf",
  "node-bundle-scope",
]);

export interface RemoteStats {
  recordHits: number;
  recordMisses: number;
  /** Records the server had but that were not used: unsigned, badly signed, oversized, invalid. */
  recordsIgnored: number;
  blobsFetched: number;
  recordsPut: number;
  blobsPut: number;
}

export interface RemoteSyncOptions {
  /** TUG_REMOTE_CACHE_KEY: records written are signed, records read must verify. Never printed. */
  signingKey?: string;
  /** Deadline of one record read or write; blobs are bounded by the transport's idle limit. */
  deadlineMs?: number;
}

/** Why records the server had were not used; each reason is warned about once per build. */
type IgnoredRecordReason = "signature" | "oversized" | "invalid";

/**
 * Read-through and write-back between the local store and a shared cache server. Every remote
 * failure (down, slow, 5xx, a body that does not match its digest) degrades to local-only with
 * one warning; nothing read is trusted before it verifies. A record that is oversized, does not
 * validate, or (with a signing key) is unsigned or badly signed is a miss, with one warning per
 * reason per build; the remote stays in use. Uploads run in the background on their own small
 * pool and are awaited, up to a deadline, when the build ends.
 */
export class RemoteSync {
  readonly stats: RemoteStats = {
    recordHits: 0,
    recordMisses: 0,
    recordsIgnored: 0,
    blobsFetched: 0,
    recordsPut: 0,
    blobsPut: 0,
  };
  private disabled = false;
  private readonly uploads = new Limiter(4);
  private readonly pending = new Set<Promise<void>>();
  private readonly queuedBlobs = new Set<Digest>();
  private readonly warned = new Set<IgnoredRecordReason>();
  private readonly signingKey: string | undefined;
  private readonly deadlineMs: number;

  constructor(
    private readonly remote: RemoteCache,
    private readonly mode: Exclude<RemoteMode, "off">,
    private readonly warn: (message: string) => void,
    opts: RemoteSyncOptions = {
      signingKey: process.env.TUG_REMOTE_CACHE_KEY || undefined,
      deadlineMs: remoteTimeouts().deadlineMs,
    },
  ) {
    this.signingKey = opts.signingKey;
    this.deadlineMs = opts.deadlineMs ?? 60_000;
  }

  get name(): string {
    return this.remote.name;
  }

  /** The remote AC key of a local record: sha256 of kind and key, so it fits `/ac/HEX`. */
  static recordKey(kind: string, key: string): string {
    return createHash("sha256").update(`tug-record-v1|${kind}|${key}`).digest("hex");
  }

  /**
   * The record envelope the server holds for (kind, key), signature checked and stripped; the
   * caller still parses and validates it (and calls `ignoreRecord` when it does not).
   */
  async getRecord(kind: string, key: string): Promise<string | undefined> {
    if (this.disabled || !SHARED_KINDS.has(kind)) return undefined;
    const remoteKey = RemoteSync.recordKey(kind, key);
    const body = await this.guard(`read a ${kind} record`, () =>
      this.withDeadline(`GET record ${remoteKey}`, async () => {
        try {
          return await this.remote.getRecord(remoteKey);
        } catch (e) {
          if (!(e instanceof OversizedRecordError)) throw e;
          this.ignoreRecord("oversized", `a ${kind} record is larger than any record tug writes`);
          return undefined;
        }
      }),
    );
    if (!body) {
      this.stats.recordMisses++;
      return undefined;
    }
    const opened = openRecord(body.toString("utf8"), remoteKey, this.signingKey);
    if (!opened.ok) {
      this.ignoreRecord(
        "signature",
        `records that are unsigned or badly signed are ignored because TUG_REMOTE_CACHE_KEY is set (first: a ${kind} record, ${opened.why})`,
      );
      this.stats.recordMisses++;
      return undefined;
    }
    this.stats.recordHits++;
    return opened.envelope;
  }

  /** A record the server had but that is not used; warned about once per reason per build. */
  ignoreRecord(reason: IgnoredRecordReason, detail: string): void {
    this.stats.recordsIgnored++;
    if (this.warned.has(reason)) return;
    this.warned.add(reason);
    this.warn(`remote cache ${this.name}: ${detail}; building those steps locally`);
  }

  /**
   * Downloads a blob into `dest` (through `ingest`: renamed there only once verified), checking
   * its digest and, when known, its size as it streams; false when unavailable or wrong.
   */
  async fetchBlob(
    digest: Digest,
    dest: string,
    opts: { size?: number | undefined; temp?: string } = {},
  ): Promise<boolean> {
    const { size, temp } = opts;
    if (this.disabled) return false;
    if (!isDigest(digest)) throw new Error(`internal: not a sha256 digest: ${String(digest).slice(0, 80)}`);
    const ok = await this.guard(`download ${digest}`, async () => {
      const stream = await this.remote.getBlob(digest);
      if (!stream) return false;
      await ingest(stream, {
        dest,
        digest,
        size,
        ...(temp ? { temp } : {}),
        // Cut off at once: a server sending more than the record said never fills the disk.
        error: (m) =>
          new Error(
            m.kind === "oversize"
              ? `it served more than the ${m.limit} bytes of ${digest}`
              : m.kind === "size"
                ? `it served ${m.actual} bytes for ${digest}, not ${m.expected}`
                : `it served bytes that do not match ${digest}`,
          ),
      });
      return true;
    });
    // ingest never leaves a partial `dest`: nothing to remove on failure.
    if (ok) this.stats.blobsFetched++;
    return ok === true;
  }

  putRecord(kind: string, key: string, envelope: string): void {
    if (this.mode !== "readwrite" || this.disabled || !SHARED_KINDS.has(kind)) return;
    const remoteKey = RemoteSync.recordKey(kind, key);
    const body = Buffer.from(sealRecord(envelope, remoteKey, this.signingKey));
    this.background(`upload a ${kind} record`, async () => {
      await this.withDeadline(`PUT record ${remoteKey}`, () => this.remote.putRecord(remoteKey, body));
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

  /** A small request that must finish within the deadline, however slowly the server trickles. */
  private async withDeadline<T>(what: string, op: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what} took longer than ${this.deadlineMs} ms (--http-timeout)`)),
        this.deadlineMs,
      );
    });
    try {
      return await Promise.race([op(), late]);
    } finally {
      clearTimeout(timer);
    }
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
