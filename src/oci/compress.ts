import { availableParallelism } from "node:os";
import { PassThrough, Transform, type TransformCallback } from "node:stream";
import { promisify } from "node:util";
import { gzip as gzipCb } from "node:zlib";
import { MediaType } from "./types.ts";

export type Compression = { kind: "gzip"; level: number } | { kind: "none" };

export const defaultCompression: Compression = { kind: "gzip", level: 1 };

/** A stable short name for cache keys: the compressed digest depends on it. */
export function compressionKey(c: Compression): string {
  return c.kind === "gzip" ? `gzip-${c.level}` : "none";
}

export function layerMediaType(c: Compression): string {
  return c.kind === "gzip" ? MediaType.ociLayerGzip : MediaType.ociLayer;
}

/**
 * Input is cut at fixed offsets, never at the caller's chunk boundaries, so the output depends
 * only on the bytes. 1 MiB costs ~0.1% in ratio against one deflate stream (32 KiB window) and
 * gives the threadpool enough work per job.
 */
export const GZIP_CHUNK = 1 << 20;

const gzip = promisify(gzipCb);

export interface ParallelGzipOptions {
  level: number;
  /** Chunk size in bytes; changing it changes the output bytes. */
  chunkSize?: number;
  /** Members being compressed at once; memory is about 2 × inFlight × chunkSize. */
  inFlight?: number;
}

/**
 * Gzip as a sequence of independent members, one per fixed-size input chunk, compressed
 * concurrently on libuv's threadpool and emitted in order. RFC 1952 §2.2 makes concatenated
 * members a valid gzip file (gunzip, Go's compress/gzip and containerd all read them), and
 * node's zlib writes mtime 0 and a fixed OS byte, so the bytes are deterministic for a given
 * zlib build and level.
 */
export class ParallelGzip extends Transform {
  readonly #level: number;
  readonly #chunkSize: number;
  readonly #inFlight: number;
  #parts: Buffer[] = [];
  #buffered = 0;
  #queue: Promise<Buffer>[] = [];
  #sawInput = false;

  constructor(options: ParallelGzipOptions) {
    super({ highWaterMark: options.chunkSize ?? GZIP_CHUNK });
    this.#level = options.level;
    this.#chunkSize = options.chunkSize ?? GZIP_CHUNK;
    this.#inFlight = options.inFlight ?? Math.max(4, availableParallelism() + 2);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#sawInput = true;
    this.#parts.push(chunk);
    this.#buffered += chunk.length;
    this.#drainFull().then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    // An empty input still needs one member, or the output would not be gzip at all.
    if (this.#buffered > 0 || !this.#sawInput) this.#start(this.#take(this.#buffered));
    this.#emitAll().then(() => cb(), cb);
  }

  async #drainFull(): Promise<void> {
    while (this.#buffered >= this.#chunkSize) {
      this.#start(this.#take(this.#chunkSize));
      // Bounded in flight: wait for the oldest member before starting more, so memory stays flat.
      if (this.#queue.length >= this.#inFlight) this.push(await this.#queue.shift()!);
    }
  }

  async #emitAll(): Promise<void> {
    while (this.#queue.length > 0) this.push(await this.#queue.shift()!);
  }

  #start(data: Buffer): void {
    const level = this.#level;
    const members = planMembers(data).map((m) =>
      gzip(data.subarray(m.start, m.end), { level: m.store ? 0 : level }),
    );
    const p = members.length === 1 ? members[0]! : Promise.all(members).then((bufs) => Buffer.concat(bufs));
    p.catch(() => {}); // surfaced when awaited in order; avoid an unhandled rejection meanwhile
    this.#queue.push(p);
  }

  #take(n: number): Buffer {
    const all = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#buffered);
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#parts = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return head;
  }
}

// Deflate at level 1 runs at ~45 MiB/s on random bytes and gains nothing there, while stored
// blocks cost a copy (~470 MiB/s); layers often carry already-compressed files (wheels' .so
// sections, images, .gz, .jar). So each 32 KiB segment is classified from a 4 KiB sample's byte
// entropy and runs of incompressible segments become stored (level 0) members. The decision
// reads only the bytes, so output stays deterministic. Blind spot: data with high byte entropy
// but long-range repeats (a random block tiled) is stored, not deflated.
const SEGMENT = 32 * 1024;
const SAMPLE = 4 * 1024;
const STORE_ABOVE_BITS = 7.5;

function entropyBits(sample: Buffer): number {
  const counts = new Uint32Array(256);
  for (let i = 0; i < sample.length; i++) counts[sample[i]!]!++;
  let bits = 0;
  for (let b = 0; b < 256; b++) {
    const c = counts[b]!;
    if (c > 0) {
      const p = c / sample.length;
      bits -= p * Math.log2(p);
    }
  }
  return bits;
}

/** Splits a chunk into runs of compressible and incompressible segments (exported for tests). */
export function planMembers(data: Buffer): Array<{ start: number; end: number; store: boolean }> {
  const runs: Array<{ start: number; end: number; store: boolean }> = [];
  for (let start = 0; start < data.length || (start === 0 && runs.length === 0); start += SEGMENT) {
    const end = Math.min(start + SEGMENT, data.length);
    const sampleStart = start + Math.max(0, Math.floor((end - start - SAMPLE) / 2));
    const sample = data.subarray(sampleStart, Math.min(end, sampleStart + SAMPLE));
    const store = sample.length >= SAMPLE && entropyBits(sample) > STORE_ABOVE_BITS;
    const last = runs[runs.length - 1];
    if (last && last.store === store) last.end = end;
    else runs.push({ start, end, store });
    if (end === data.length) break;
  }
  return runs;
}

/** The compressing stage for `c`: parallel gzip, or a pass-through for uncompressed layers. */
export function compressor(c: Compression): Transform {
  if (c.kind === "none") return new PassThrough({ highWaterMark: GZIP_CHUNK });
  return new ParallelGzip({ level: c.level });
}
