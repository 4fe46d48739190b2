import { createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import type { CacheStore } from "../../engine/cache-store.ts";
import { TugError } from "../../errors.ts";
import { ZipReader } from "../../zip/zip-reader.ts";

/**
 * One file of a wheel, with where its compressed bytes start: enough to copy the entry into
 * another zip with no further look at the wheel's directory or local headers.
 */
export interface WheelRow {
  name: string;
  mode: number;
  method: 0 | 8;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Offset of the entry's compressed bytes in the wheel file. */
  dataOffset: number;
}

// Bump when WheelRow, its encoding or how it is derived changes: old records then simply miss.
const TABLE_VERSION = 2;

// A wheel's table never changes for one sha256: a resident process (tug dev) keeps them.
const inProcess = new Map<string, WheelRow[]>();

/**
 * A wheel's file table, read once per wheel ever: the record is keyed by the wheel's sha256, so
 * the same bytes always give the same table. Reading it back skips parsing the central directory
 * and one local-header read per entry (thousands for numpy or matplotlib). It is stored as one
 * tab-separated string: the record checksum then costs one hash, not a walk over every row.
 */
export async function cachedWheelTable(
  store: CacheStore | undefined,
  sha256: string,
  wheelPath: string,
): Promise<WheelRow[]> {
  const known = inProcess.get(sha256);
  if (known) return known;
  const key = `${TABLE_VERSION}:${sha256}`;
  const hit = await store?.getRecord<string>("wheel-table", key);
  let rows = hit === undefined ? undefined : decodeRows(hit);
  if (!rows) {
    rows = await readWheelTable(wheelPath);
    const encoded = encodeRows(rows);
    if (encoded !== undefined) await store?.putRecord("wheel-table", key, encoded);
  }
  inProcess.set(sha256, rows);
  return rows;
}

/** Rows as lines of tab-separated fields; undefined when a name would not survive that. */
export function encodeRows(rows: readonly WheelRow[]): string | undefined {
  if (rows.some((r) => /[\t\n]/.test(r.name))) return undefined;
  return rows
    .map((r) =>
      [r.name, r.mode, r.method, r.crc32, r.compressedSize, r.uncompressedSize, r.dataOffset].join("\t"),
    )
    .join("\n");
}

export function decodeRows(text: string): WheelRow[] | undefined {
  if (text === "") return [];
  const rows: WheelRow[] = [];
  for (const line of text.split("\n")) {
    const f = line.split("\t");
    if (f.length !== 7) return undefined;
    const [name, ...nums] = f as [string, ...string[]];
    const [mode, method, crc32, compressedSize, uncompressedSize, dataOffset] = nums.map(Number) as number[];
    if (method !== 0 && method !== 8) return undefined;
    rows.push({
      name,
      mode: mode as number,
      method,
      crc32: crc32 as number,
      compressedSize: compressedSize as number,
      uncompressedSize: uncompressedSize as number,
      dataOffset: dataOffset as number,
    });
  }
  return rows;
}

/** Reads a wheel's file table from its central directory and local headers. */
export async function readWheelTable(wheelPath: string): Promise<WheelRow[]> {
  const wheel = basename(wheelPath);
  let reader: ZipReader;
  try {
    reader = await ZipReader.open(wheelPath);
  } catch (err) {
    if (err instanceof TugError) {
      throw new TugError({
        what: `wheel ${wheel}: ${err.what}`,
        where: wheelPath,
        hint: err.hint,
        cause: err,
      });
    }
    throw err;
  }
  try {
    const rows: WheelRow[] = [];
    for (const e of reader.entries) {
      if (e.dir) continue;
      if (e.method !== 0 && e.method !== 8) {
        throw new TugError({
          what: `wheel ${wheel}: ${e.name} uses compression method ${e.method}; wheels use stored or deflate`,
          where: wheelPath,
          hint: "the wheel is malformed; use another version or rebuild it",
        });
      }
      const dataOffset = await reader.dataOffset(e);
      const { name, mode, method, crc32, compressedSize, uncompressedSize } = e;
      rows.push({ name, mode, method, crc32, compressedSize, uncompressedSize, dataOffset });
    }
    return rows;
  } finally {
    await reader.close();
  }
}

// Entries up to this size are read with one positional read; larger ones stream on their own.
const READ_WHOLE = 1 << 20;

/**
 * Reads one wheel's entries through a single descriptor, opened on first use: a zip of five
 * thousand entries from eleven wheels opens eleven files, not five thousand. Reads are
 * positional, so the zip writer may have several in flight (its look-ahead) on one descriptor.
 */
export class WheelFile {
  private handle: Promise<FileHandle> | undefined;

  constructor(readonly path: string) {}

  async raw(row: WheelRow): Promise<Uint8Array | Readable> {
    const { dataOffset: start, compressedSize: size } = row;
    if (size === 0) return new Uint8Array();
    if (size > READ_WHOLE)
      return createReadStream(this.path, { start, end: start + size - 1, highWaterMark: READ_WHOLE });
    this.handle ??= open(this.path, "r");
    const fh = await this.handle;
    const buf = Buffer.allocUnsafe(size);
    // A short read (a truncated wheel) yields fewer bytes; the zip writer checks the length.
    const { bytesRead } = await fh.read(buf, 0, size, start);
    return buf.subarray(0, bytesRead);
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (h) await (await h).close();
  }
}
