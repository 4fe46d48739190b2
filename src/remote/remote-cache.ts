import type { Readable } from "node:stream";
import { TugError } from "../errors.ts";
import type { Digest } from "../oci/digest.ts";
import { httpTimeouts } from "../util/http-timeout.ts";

/**
 * A shared cache server, as tug sees it: content-addressed blobs (CAS) and small action records
 * (AC) by key. Backends speak protocols real servers implement: the Bazel HTTP cache
 * (`/cas/HEX`, `/ac/HEX`), the S3 API, an OCI registry. Nothing read from one is trusted: the
 * caller verifies every blob against its digest and every record against its checksum (and its
 * signature when TUG_REMOTE_CACHE_KEY is set); a record body is read only up to MAX_RECORD_BYTES.
 */
export interface RemoteCache {
  /** For messages: the URL without credentials. */
  readonly name: string;
  /** Which of `digests` the server holds (a listing when the backend offers one, else HEADs). */
  hasBlobs(digests: Digest[]): Promise<Set<Digest>>;
  /** The blob's bytes, or undefined when the server does not have it. */
  getBlob(digest: Digest): Promise<Readable | undefined>;
  /** Stores a blob; `open` is called only if the server does not already have it. */
  putBlob(digest: Digest, size: number, open: () => Promise<Readable>): Promise<void>;
  /**
   * An action record by key (64 hex chars), or undefined. A body over MAX_RECORD_BYTES is an
   * OversizedRecordError, never buffered whole.
   */
  getRecord(key: string): Promise<Buffer | undefined>;
  putRecord(key: string, body: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** Per-operation time limits, so a stalled server costs seconds, not a build. */
export interface RemoteTimeouts {
  connectMs: number;
  /** Headers and every gap between body chunks. */
  idleMs: number;
  /**
   * Whole-operation deadline for small requests (records, HEADs); blobs are bounded by
   * `idleMs` (bytes must keep flowing), as with every other download.
   */
  deadlineMs?: number;
}

/**
 * A cache is an optimisation: a slow one must cost a build seconds, not the minute an index or
 * registry may take. Its limits are 3 s to connect, 10 s of silence and 20 s per record, or
 * `--http-timeout` / TUG_HTTP_TIMEOUT when that is shorter.
 */
export function remoteTimeouts(): RemoteTimeouts {
  const t = httpTimeouts();
  return {
    connectMs: Math.min(3_000, t.connectMs),
    idleMs: Math.min(10_000, t.idleMs),
    deadlineMs: Math.min(20_000, t.deadlineMs),
  };
}

/**
 * Records are small JSON (a few hundred bytes; a lock a few KiB). 4 MiB is the distribution
 * spec's manifest bound, far above any honest record: a larger one is hostile or foreign.
 */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;

/** A record the server holds but that is too large to be one of tug's: ignored, not fatal. */
export class OversizedRecordError extends TugError {
  constructor(server: string, key: string, bytes: number | undefined) {
    super({
      what: `remote cache ${server}: record ${key} is larger than ${MAX_RECORD_BYTES} bytes${bytes === undefined ? "" : ` (${bytes})`}`,
      hint: "the record is ignored; if the cache is shared with other tools, give tug its own prefix",
    });
    this.name = "OversizedRecordError";
  }
}

/**
 * A record body read whole, but never more than MAX_RECORD_BYTES: a declared larger length is
 * refused before reading, a body that grows past the bound is cut off (stream destroyed).
 */
export async function readRecordBody(
  body: Readable,
  where: { server: string; key: string; contentLength?: string | string[] },
): Promise<Buffer> {
  const declared = Number(Array.isArray(where.contentLength) ? where.contentLength[0] : where.contentLength);
  if (Number.isFinite(declared) && declared > MAX_RECORD_BYTES) {
    body.destroy();
    throw new OversizedRecordError(where.server, where.key, declared);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of body) {
    const chunk = c as Buffer;
    total += chunk.length;
    if (total > MAX_RECORD_BYTES) {
      body.destroy();
      throw new OversizedRecordError(where.server, where.key, undefined);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
