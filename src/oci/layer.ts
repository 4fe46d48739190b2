import { createReadStream, type ReadStream } from "node:fs";
import { pipeline, Readable, Writable } from "node:stream";
import { createGunzip, gunzipSync } from "node:zlib";
import { VerifyingStream } from "../util/verify-stream.ts";
import { writeLayer } from "./build-layer.ts";
import type { Compression } from "./compress.ts";
import { CorruptBlobError } from "./corrupt-blob.ts";
import { type Digest, sha256 } from "./digest.ts";
import { type LayerEntry, type TarOptions, tarStream } from "./tar.ts";
import type { Layer } from "./types.ts";

export { CorruptBlobError, isCorruptBlob } from "./corrupt-blob.ts";

/** A Layer that can also give its uncompressed tar (for recompression or inspection). */
export interface LocalLayer extends Layer {
  uncompressed(): Promise<Readable>;
}

/** A layer backed by a file; `path` lets writeLayout hardlink it (see FileBackedLayer). */
export interface FileLayer extends LocalLayer {
  readonly path: string;
}

function isGzip(mediaType: string): boolean {
  return mediaType.endsWith("gzip");
}

async function gunzipIfNeeded(compressed: Readable, mediaType: string): Promise<Readable> {
  if (!isGzip(mediaType)) return compressed;
  const gunzip = createGunzip();
  pipeline(compressed, gunzip, () => {}); // errors reach the consumer through gunzip
  return gunzip;
}

/** The recorded size and digest, checked as the blob streams: CorruptBlobError on a mismatch. */
function verifyingBlob(expected: { digest: Digest; size: number; path: string }): VerifyingStream {
  const corrupt = (detail: string) =>
    new CorruptBlobError({ digest: expected.digest, path: expected.path, detail });
  return new VerifyingStream({
    digest: expected.digest,
    size: expected.size,
    error: (m) =>
      corrupt(
        m.kind === "oversize"
          ? `more than the recorded ${expected.size} bytes`
          : m.kind === "size"
            ? `${m.actual} bytes, recorded ${expected.size}`
            : `content hashes to ${m.actual}`,
      ),
  });
}

function openRead(path: string): Promise<ReadStream> {
  return new Promise((res, rej) => {
    const rs = createReadStream(path, { highWaterMark: 1 << 20 });
    rs.once("open", () => res(rs));
    rs.once("error", rej);
  });
}

export interface FileLayerOptions {
  path: string;
  digest: Digest;
  diffId: Digest;
  size: number;
  mediaType: string;
}

/**
 * A layer stored as a file (a cache blob). Identity comes from the arguments, without I/O;
 * `compressed()` opens the file and verifies the digest while streaming, failing with
 * CorruptBlobError on a mismatch.
 */
export function fileLayer(options: FileLayerOptions): FileLayer {
  const { path, digest, diffId, size, mediaType } = options;
  const compressed = async (): Promise<Readable> => {
    let rs: ReadStream;
    try {
      rs = await openRead(path);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new CorruptBlobError({ digest, path, detail: "the file is missing" });
      throw cause;
    }
    const verify = verifyingBlob({ digest, size, path });
    pipeline(rs, verify, () => {}); // errors reach the consumer through `verify`
    return verify;
  };
  return {
    path,
    digest: async () => digest,
    diffId: async () => diffId,
    size: async () => size,
    mediaType: () => mediaType,
    compressed,
    uncompressed: async () => gunzipIfNeeded(await compressed(), mediaType),
  };
}

/**
 * A layer held in memory: for tiny layers (a config file, a symlink) where a file in the store
 * costs more than it saves. The digest is computed here; the diffId is derived when not given.
 */
export function memoryLayer(options: { data: Uint8Array; mediaType: string; diffId?: Digest }): LocalLayer {
  const data = Buffer.from(options.data.buffer, options.data.byteOffset, options.data.byteLength);
  const digest = sha256(data);
  let diffId = options.diffId;
  const getDiffId = (): Digest => {
    diffId ??= isGzip(options.mediaType) ? sha256(gunzipSync(data)) : digest;
    return diffId;
  };
  return {
    digest: async () => digest,
    diffId: async () => getDiffId(),
    size: async () => data.length,
    mediaType: () => options.mediaType,
    compressed: async () => Readable.from([data], { objectMode: false }),
    uncompressed: async () => gunzipIfNeeded(Readable.from([data], { objectMode: false }), options.mediaType),
  };
}

/** Builds a small layer straight into memory; use buildLayer for anything that may be large. */
export async function buildMemoryLayer(options: {
  entries: readonly LayerEntry[];
  compression: Compression;
  tar?: TarOptions;
}): Promise<LocalLayer> {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      cb();
    },
  });
  const built = await writeLayer(tarStream(options.entries, options.tar), options.compression, sink);
  return memoryLayer({ data: Buffer.concat(parts), mediaType: built.mediaType, diffId: built.diffId });
}
