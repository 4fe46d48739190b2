import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";

export type Sha256Digest = `sha256:${string}`;

/** What differed; each caller turns it into its own error (CorruptBlobError, a registry's, an index's). */
export type Mismatch =
  /** More bytes arrived than `size` (or `max`) allows: cut off at once, before they are stored. */
  | { kind: "oversize"; limit: number; exact: boolean }
  | { kind: "size"; expected: number; actual: number }
  | { kind: "digest"; expected: Sha256Digest; actual: Sha256Digest };

export interface VerifyOptions {
  /** The bytes must hash to this; without it the stream only hashes (read `digest()` at the end). */
  digest?: Sha256Digest | undefined;
  /** The exact size, when known. */
  size?: number | undefined;
  /** The largest size accepted when the exact one is not known (a download's cap). */
  max?: number | undefined;
  error: (m: Mismatch) => Error;
  highWaterMark?: number;
}

/**
 * The one verifying stream: passes bytes through while counting and hashing them, fails as soon
 * as there are too many, and fails at its end (before signalling completion) when the size or
 * the digest differ, so a consumer never sees a clean end of bad content. Layers, layouts, the
 * registry client, the shared cache and the index client all verify through it.
 */
export class VerifyingStream extends Transform {
  readonly #hash = createHash("sha256");
  #bytes = 0;
  #digest: Sha256Digest | undefined;

  constructor(private readonly opts: VerifyOptions) {
    super({ highWaterMark: opts.highWaterMark ?? 1 << 20 });
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The sha256 of what passed, once the stream has ended. */
  digest(): Sha256Digest {
    if (!this.#digest) throw new Error("internal: digest() before the stream ended");
    return this.#digest;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#bytes += chunk.length;
    const limit = this.opts.size ?? this.opts.max;
    if (limit !== undefined && this.#bytes > limit) {
      cb(this.opts.error({ kind: "oversize", limit, exact: this.opts.size !== undefined }));
      return;
    }
    this.#hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.#digest = `sha256:${this.#hash.digest("hex")}`;
    const { size, digest } = this.opts;
    if (size !== undefined && this.#bytes !== size) {
      cb(this.opts.error({ kind: "size", expected: size, actual: this.#bytes }));
    } else if (digest !== undefined && this.#digest !== digest) {
      cb(this.opts.error({ kind: "digest", expected: digest, actual: this.#digest }));
    } else cb();
  }
}
