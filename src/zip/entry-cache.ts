import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import * as zlib from "node:zlib";
import { crc32 } from "./crc32.ts";
import type { EntryIdentity, ZipRawEntry } from "./entry.ts";

/**
 * Every deflate parameter pinned, so the same input gives the same bytes. The bytes also depend on
 * the zlib build (`process.versions.zlib`): a cache of pre-compressed entries should key on it.
 */
export const DEFLATE_OPTIONS: Readonly<zlib.ZlibOptions> = Object.freeze({
  level: 6,
  windowBits: 15,
  memLevel: 8,
  strategy: zlib.constants.Z_DEFAULT_STRATEGY,
});

/** A version string for cache keys of pre-compressed entries. */
export const DEFLATE_VERSION = `zlib-${process.versions.zlib}-l6w15m8s0`;

export interface Precompressed extends EntryIdentity {
  /** The entry's bytes as the zip stores them (raw deflate, or the data itself when stored). */
  rawBytes: Uint8Array;
}

const deflateRaw = promisify(zlib.deflateRaw);

// Below this, the threadpool round trip of async deflate costs more than compressing inline.
const SYNC_LIMIT = 64 * 1024;

/**
 * Compresses one entry the way the zip writer would, for storing in a CAS: raw deflate at the
 * pinned level, or stored (method 0) when deflate does not make it smaller. `input` is the data
 * or a host file path; either is held in memory, so large files belong in `ZipFileEntry` instead.
 */
export async function precompress(input: Uint8Array | string): Promise<Precompressed> {
  const data = typeof input === "string" ? await readFile(input) : input;
  const deflated =
    data.length <= SYNC_LIMIT
      ? zlib.deflateRawSync(data, DEFLATE_OPTIONS)
      : await deflateRaw(data, DEFLATE_OPTIONS);
  return identify(data, deflated);
}

/** The synchronous twin of `precompress` for data in memory. */
export function precompressSync(data: Uint8Array): Precompressed {
  return identify(data, zlib.deflateRawSync(data, DEFLATE_OPTIONS));
}

function identify(data: Uint8Array, deflated: Uint8Array): Precompressed {
  const stored = deflated.length >= data.length;
  const rawBytes = stored ? data : deflated;
  return {
    method: stored ? 0 : 8,
    crc32: crc32(data),
    compressedSize: rawBytes.length,
    uncompressedSize: data.length,
    rawBytes,
  };
}

/** A writer entry for a pre-compressed record, e.g. one read back from the CAS. */
export function rawEntry(name: string, mode: number | undefined, p: Precompressed): ZipRawEntry {
  const { rawBytes, ...identity } = p;
  return { name, ...(mode === undefined ? {} : { mode }), ...identity, raw: () => rawBytes };
}
