import { createInflateRaw, type InflateRaw, inflateRaw } from "node:zlib";
import { TugError } from "../errors.ts";
import { crc32 } from "./crc32.ts";
import type { LocalHeader, ZipReader, ZipReaderEntry } from "./zip-reader.ts";

/** The most entries a zip may list: tensorflow's wheels hold ~20 000; far more is a crafted archive. */
export const MAX_ZIP_ENTRIES = 500_000;

// Entries up to these sizes are inflated in one call on zlib's thread pool; bigger ones stream.
const ONE_SHOT_COMPRESSED = 1 << 20;
const ONE_SHOT_UNCOMPRESSED = 16 << 20;
const CHUNK = 1 << 20;
// Entries of one zip checked at once: enough to keep zlib's four pool threads busy.
const IN_FLIGHT = 4;

const FLAG_ENCRYPTED = 1;
const FLAG_STRONG_ENCRYPTION = 1 << 6;
const FLAG_DATA_DESCRIPTOR = 1 << 3;
const SIG_DATA_DESCRIPTOR = 0x08074b50;

export interface ZipVerifyOptions {
  /** What to call the zip in messages (a wheel's file name rather than its cache path). */
  label?: string;
  /** Where to point the user; defaults to the reader's path. */
  where?: string;
}

/** A reason an entry is refused, before the zip and entry are named around it. */
class Lie extends Error {}

/**
 * Checks that a zip is exactly what its central directory says, before any of its entries is
 * trusted or copied compressed into another zip: each local header agrees with its central record
 * (name, method, flags, CRC and sizes), no two entries' bytes overlap (the trick behind
 * non-recursive zip bombs, and a way to show different content to different readers), no entry
 * is encrypted or compressed other than stored/deflate, and every entry's bytes inflate to exactly
 * its declared size with its declared CRC, with the deflate stream ending exactly where its
 * compressed size says. Inflating stops as soon as an entry yields more than it declares.
 * Returns each entry's data offset: the verified bytes are `[offset, offset + compressedSize)`.
 */
export async function verifyZipEntries(
  reader: ZipReader,
  opts: ZipVerifyOptions = {},
): Promise<Map<ZipReaderEntry, number>> {
  const label = opts.label ?? reader.path;
  const fail = (entry: ZipReaderEntry | undefined, why: string) =>
    new TugError({
      what: entry ? `${label}: entry ${entry.name} ${why}` : `${label}: ${why}`,
      where: opts.where ?? reader.path,
      hint: "the archive is corrupt or crafted; do not use it (pick another version, or rebuild it)",
    });
  const entries = reader.entries;
  if (entries.length > MAX_ZIP_ENTRIES) {
    throw fail(undefined, `lists ${entries.length} entries; more than ${MAX_ZIP_ENTRIES} is refused`);
  }
  const named = async <T>(entry: ZipReaderEntry, step: () => Promise<T>): Promise<T> => {
    try {
      return await step();
    } catch (err) {
      if (err instanceof Lie) throw fail(entry, err.message);
      if (err instanceof TugError) throw fail(entry, err.what.replace(/^unreadable zip: /, ""));
      throw err;
    }
  };
  // Headers and extents first: they are cheap, and overlapping entries (a bomb that is honest
  // about sizes) are refused before anything is inflated.
  const extents: Array<{ entry: ZipReaderEntry; start: number; end: number; dataOffset: number }> = [];
  await eachLimited(entries, IN_FLIGHT * 4, (entry) =>
    named(entry, async () => {
      const local = await reader.localHeader(entry);
      checkHeaders(entry, local);
      const end = local.dataOffset + entry.compressedSize;
      const tail = local.flags & FLAG_DATA_DESCRIPTOR ? await checkDescriptor(reader, entry, end) : 0;
      extents.push({ entry, start: entry.localHeaderOffset, end: end + tail, dataOffset: local.dataOffset });
    }),
  );
  extents.sort((a, b) => a.start - b.start);
  for (let i = 0; i < extents.length; i++) {
    const here = extents[i] as (typeof extents)[number];
    const next = extents[i + 1];
    if (next && next.start < here.end) {
      throw fail(next.entry, `overlaps entry ${here.entry.name} (bytes shared between entries)`);
    }
    if (here.end > reader.centralDirectoryOffset) throw fail(here.entry, "runs into the central directory");
  }
  await eachLimited(extents, IN_FLIGHT, ({ entry, dataOffset }) =>
    named(entry, () => checkContent(reader, entry, dataOffset)),
  );
  const offsets = new Map<ZipReaderEntry, number>();
  for (const { entry, dataOffset } of extents) offsets.set(entry, dataOffset);
  return offsets;
}

/** The local header must say what the central record says (APPNOTE 4.4): one entry, one truth. */
export function checkHeaders(entry: ZipReaderEntry, local: LocalHeader): void {
  if ((entry.flags | local.flags) & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION)) throw new Lie("is encrypted");
  if (entry.method !== 0 && entry.method !== 8) {
    throw new Lie(`uses compression method ${entry.method}; only stored (0) and deflate (8) are accepted`);
  }
  if (local.method !== entry.method) {
    throw new Lie(
      `has method ${local.method} in its local header but ${entry.method} in the central directory`,
    );
  }
  if (local.name !== entry.name) {
    throw new Lie(`is named ${JSON.stringify(local.name)} in its local header`);
  }
  if (entry.method === 0 && entry.compressedSize !== entry.uncompressedSize) {
    throw new Lie(
      `is stored but declares ${entry.compressedSize} bytes stored and ${entry.uncompressedSize} uncompressed`,
    );
  }
  // With a data descriptor the local fields may be zero (written before the data was known).
  const deferred = (local.flags & FLAG_DATA_DESCRIPTOR) !== 0;
  const agree = (field: string, localValue: number, centralValue: number) => {
    if (localValue === centralValue || (deferred && localValue === 0)) return;
    throw new Lie(
      `declares ${field} ${localValue} in its local header but ${centralValue} in the central directory`,
    );
  };
  agree("CRC-32", local.crc32 >>> 0, entry.crc32 >>> 0);
  agree("compressed size", local.compressedSize, entry.compressedSize);
  agree("size", local.uncompressedSize, entry.uncompressedSize);
}

/** A data descriptor after the data must repeat the central CRC and sizes; returns its length. */
async function checkDescriptor(reader: ZipReader, entry: ZipReaderEntry, at: number): Promise<number> {
  const d = await reader.readAt(at, 24);
  const signed = d.length >= 4 && d.readUInt32LE(0) === SIG_DATA_DESCRIPTOR ? 4 : 0;
  const wide = entry.compressedSize >= 0xffffffff || entry.uncompressedSize >= 0xffffffff;
  const length = signed + (wide ? 20 : 12);
  if (d.length < length) throw new Lie("has a data descriptor cut short");
  const crc = d.readUInt32LE(signed);
  const compressed = wide ? Number(d.readBigUInt64LE(signed + 4)) : d.readUInt32LE(signed + 4);
  const size = wide ? Number(d.readBigUInt64LE(signed + 12)) : d.readUInt32LE(signed + 8);
  if (crc !== entry.crc32 >>> 0 || compressed !== entry.compressedSize || size !== entry.uncompressedSize) {
    throw new Lie("has a data descriptor that disagrees with the central directory");
  }
  return length;
}

/** Inflates (or reads) the entry's bytes once and holds them to its declared CRC and size. */
async function checkContent(reader: ZipReader, entry: ZipReaderEntry, dataOffset: number): Promise<void> {
  const { compressedSize, uncompressedSize } = entry;
  const whole = compressedSize <= ONE_SHOT_COMPRESSED && uncompressedSize <= ONE_SHOT_UNCOMPRESSED;
  if (entry.method === 0 || whole) {
    if (entry.method === 0 && !whole) return checkStreamed(reader, entry, dataOffset, undefined);
    const raw = await reader.readAt(dataOffset, compressedSize);
    if (raw.length < compressedSize) throw new Lie("is cut short: the file ends inside it");
    if (entry.method === 0) return checkSum(entry, crc32(raw), raw.length);
    const { data, consumed } = await inflateWhole(raw, uncompressedSize);
    checkDeflateEnd(entry, consumed);
    return checkSum(entry, crc32(data), data.length);
  }
  return checkStreamed(reader, entry, dataOffset, createInflateRaw());
}

function inflateWhole(raw: Buffer, declared: number): Promise<{ data: Buffer; consumed: number }> {
  return new Promise((resolve, reject) => {
    // One byte over the declared size is enough to know it lies, and bounds the memory used.
    inflateRaw(raw, { info: true, maxOutputLength: Math.max(1, declared + 1) }, (err, result) => {
      if (err) return reject(inflateLie(err));
      const { buffer, engine } = result as unknown as { buffer: Buffer; engine: InflateRaw };
      resolve({ data: buffer, consumed: engine.bytesWritten });
    });
  });
}

/** Streams a large entry through zlib (or not, when stored), stopping once it says too much. */
async function checkStreamed(
  reader: ZipReader,
  entry: ZipReaderEntry,
  dataOffset: number,
  inflater: InflateRaw | undefined,
): Promise<void> {
  let crc = 0;
  let size = 0;
  const take = (chunk: Buffer) => {
    crc = crc32(chunk, crc);
    size += chunk.length;
    if (size > entry.uncompressedSize)
      throw new Lie(`inflates to more than its declared ${entry.uncompressedSize} bytes`);
  };
  const done = inflater
    ? new Promise<void>((resolve, reject) => {
        inflater.on("data", (chunk: Buffer) => {
          try {
            take(chunk);
          } catch (err) {
            inflater.destroy(err as Error);
          }
        });
        inflater.on("error", (err) => reject(err instanceof Lie ? err : inflateLie(err)));
        inflater.on("end", resolve);
      })
    : undefined;
  done?.catch(() => {}); // observed below; a write that fails first must not leave it unhandled
  try {
    for (let pos = 0; pos < entry.compressedSize; ) {
      const got = await reader.readAt(dataOffset + pos, Math.min(CHUNK, entry.compressedSize - pos));
      if (got.length === 0) throw new Lie("is cut short: the file ends inside it");
      pos += got.length;
      if (!inflater) take(got);
      else if (!inflater.write(got))
        await Promise.race([new Promise((r) => inflater.once("drain", r)), done]);
    }
    if (inflater) {
      inflater.end();
      await done;
      checkDeflateEnd(entry, inflater.bytesWritten);
    }
  } finally {
    inflater?.destroy();
  }
  checkSum(entry, crc, size);
}

function checkDeflateEnd(entry: ZipReaderEntry, consumed: number): void {
  if (consumed !== entry.compressedSize) {
    throw new Lie(
      `declares ${entry.compressedSize} compressed bytes but its deflate stream ends after ${consumed}`,
    );
  }
}

function checkSum(entry: ZipReaderEntry, crc: number, size: number): void {
  if (size !== entry.uncompressedSize) {
    throw new Lie(`declares ${entry.uncompressedSize} bytes but holds ${size}`);
  }
  if (crc >>> 0 !== entry.crc32 >>> 0) {
    throw new Lie(
      `has CRC-32 ${hex(crc)} but declares ${hex(entry.crc32)} (its bytes are not what its directory says)`,
    );
  }
}

function inflateLie(err: unknown): Lie {
  const code = (err as { code?: string }).code;
  if (code === "ERR_BUFFER_TOO_LARGE") return new Lie("inflates to more than its declared size");
  if (code === "Z_BUF_ERROR")
    return new Lie("has a deflate stream cut short of its end (its compressed size lies)");
  return new Lie(`does not inflate: ${(err as Error).message}`);
}

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

/** Runs `fn` over `items`, at most `limit` at once; the first failure wins, the rest are dropped. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
