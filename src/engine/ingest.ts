import { rename, rm } from "node:fs/promises";
import type { Readable } from "node:stream";
import { countingStream } from "../util/counting-stream.ts";
import { tempPathFor } from "../util/dead-temps.ts";
import { pipeToFile } from "../util/file-write.ts";
import { type Mismatch, type Sha256Digest, VerifyingStream } from "../util/verify-stream.ts";

export interface IngestOptions {
  /** Where the bytes land once verified (a CAS path, or a temp the caller renames). */
  dest: string;
  /** The bytes must hash to this; without it, they are kept and their digest returned. */
  digest?: Sha256Digest | undefined;
  size?: number | undefined;
  /** The largest size accepted when the exact one is not known. */
  max?: number | undefined;
  error: (m: Mismatch) => Error;
  /** Written here first (default: a reclaimable temp next to `dest`). */
  temp?: string;
  /** What is being written, for a full-disk error ("a download into tug's cache"). */
  writing?: string;
  /** Told of each chunk's size as it passes (a progress meter). */
  onBytes?: (bytes: number) => void;
}

/**
 * The one way bytes from outside enter the cache (shared-cache blobs, wheel downloads): streamed
 * into a temp file through the verifying stream and renamed to `dest` only when size and digest
 * match, so a killed run or a lying server leaves a temp (swept later), never a wrong blob.
 */
export async function ingest(source: Readable, opts: IngestOptions): Promise<Sha256Digest> {
  const tmp = opts.temp ?? tempPathFor(opts.dest);
  const verify = new VerifyingStream({
    digest: opts.digest,
    size: opts.size,
    max: opts.max,
    error: opts.error,
  });
  try {
    const counted = opts.onBytes ? countingStream(source, opts.onBytes) : source;
    await pipeToFile(counted, [verify], tmp, { writing: opts.writing ?? "a download into tug's cache" });
    await rename(tmp, opts.dest);
    return verify.digest();
  } finally {
    await rm(tmp, { force: true });
  }
}
