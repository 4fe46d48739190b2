import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { type Readable, Transform, type TransformCallback, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ioError } from "../util/io-error.ts";
import { type Compression, compressor, layerMediaType } from "./compress.ts";
import type { Digest } from "./digest.ts";
import { type LayerEntry, type TarOptions, tarStream } from "./tar.ts";

export interface BuildLayerResult {
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: Digest;
  diffSize: number;
  /** sha256 of the blob as written (equals diffId when uncompressed). */
  digest: Digest;
  size: number;
  mediaType: string;
}

/** A pass-through that hashes and counts what flows by. */
export class HashTap extends Transform {
  readonly #hash = createHash("sha256");
  #size = 0;

  constructor() {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    cb(null, chunk);
  }

  /** Valid once the stream has ended. */
  result(): { digest: Digest; size: number } {
    return { digest: `sha256:${this.#hash.digest("hex")}`, size: this.#size };
  }
}

/**
 * Hashes `tar` (diffID), compresses, hashes again (digest) and writes to `sink`, all in one
 * streaming pass with backpressure end to end, so memory does not grow with the layer.
 */
export async function writeLayer(
  tar: Readable,
  compression: Compression,
  sink: Writable,
): Promise<BuildLayerResult> {
  const diff = new HashTap();
  if (compression.kind === "none") {
    await pipeline(tar, diff, sink);
    const d = diff.result();
    return {
      diffId: d.digest,
      diffSize: d.size,
      digest: d.digest,
      size: d.size,
      mediaType: layerMediaType(compression),
    };
  }
  const blob = new HashTap();
  await pipeline(tar, diff, compressor(compression), blob, sink);
  const d = diff.result();
  const b = blob.result();
  return {
    diffId: d.digest,
    diffSize: d.size,
    digest: b.digest,
    size: b.size,
    mediaType: layerMediaType(compression),
  };
}

export interface BuildLayerOptions {
  entries: readonly LayerEntry[];
  compression: Compression;
  /** Written from scratch; the caller renames it into its store once this resolves. */
  outFile: string;
  tar?: TarOptions;
}

export async function buildLayer(options: BuildLayerOptions): Promise<BuildLayerResult> {
  return toFile(tarStream(options.entries, options.tar), options.compression, options.outFile);
}

/** A failed build leaves no partial blob behind for a caller to mistake for a finished one. */
async function toFile(tar: Readable, compression: Compression, outFile: string): Promise<BuildLayerResult> {
  const out = createWriteStream(outFile, { highWaterMark: 1 << 20 });
  try {
    return await writeLayer(tar, compression, out);
  } catch (e) {
    // Remove only once the stream has closed: its asynchronous open could otherwise recreate
    // the file after the removal.
    if (!out.closed) await new Promise<void>((r) => out.once("close", () => r()));
    await rm(outFile, { force: true });
    throw ioError(e, { path: outFile, writing: "a layer into tug's cache" });
  }
}

/**
 * Re-encodes an uncompressed layer tar with `compression` (e.g. a gzip-1 cache entry wanted as
 * gzip-6). The returned diffId is recomputed from the bytes, so callers can check it against
 * the one they expected.
 */
export function recompress(
  uncompressed: Readable,
  compression: Compression,
  outFile: string,
): Promise<BuildLayerResult> {
  return toFile(uncompressed, compression, outFile);
}
