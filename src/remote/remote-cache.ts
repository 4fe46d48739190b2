import type { Readable } from "node:stream";
import type { Digest } from "../oci/digest.ts";

/**
 * A shared cache server, as tug sees it: content-addressed blobs (CAS) and small action records
 * (AC) by key. Backends speak protocols real servers implement: the Bazel HTTP cache
 * (`/cas/HEX`, `/ac/HEX`), the S3 API, an OCI registry. Nothing read from one is trusted: the
 * caller verifies every blob against its digest and every record against its checksum.
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
  /** An action record by key (64 hex chars), or undefined. */
  getRecord(key: string): Promise<Buffer | undefined>;
  putRecord(key: string, body: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** Per-operation time limits, so a stalled server costs seconds, not a build. */
export interface RemoteTimeouts {
  connectMs: number;
  /** Headers and every gap between body chunks. */
  idleMs: number;
}

export const DEFAULT_REMOTE_TIMEOUTS: RemoteTimeouts = { connectMs: 3000, idleMs: 10_000 };
