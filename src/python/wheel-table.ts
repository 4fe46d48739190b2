import { createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import type { CacheStore } from "../engine/cache-store.ts";
import { TugError } from "../errors.ts";
import { ZipReader } from "../zip/zip-reader.ts";
import { verifyZipEntries } from "../zip/zip-verify.ts";

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
// 3: a table is recorded only for a wheel whose every entry was verified (verifyZipEntries).
const TABLE_VERSION = 3;

/** How many wheels this process has verified: lets tests prove a cached verdict is reused. */
export const wheelVerifications = { count: 0 };

// A wheel's table never changes for one sha256: a resident process (tug dev) keeps them.
const inProcess = new Map<string, WheelRow[]>();

/**
 * A wheel's file table, read and verified once per wheel ever: the record is keyed by the wheel's
 * sha256, so the same bytes always give the same table, and it exists only for a wheel whose
 * entries were all verified (CRC, sizes, headers, no overlaps): the record is the cached verdict.
 * Reading it back skips the wheel entirely (thousands of entries for numpy or matplotlib), so
 * warm builds never read a wheel to trust it. It is stored as one tab-separated string: the
 * record checksum then costs one hash, not a walk over every row. Wheel tables never come from
 * a shared cache (see SHARED_KINDS): every verdict was reached by this machine.
 */
export async function cachedWheelTable(
  store: CacheStore | undefined,
  sha256: string,
  wheelPath: string,
  wheel = basename(wheelPath),
): Promise<WheelRow[]> {
  const known = inProcess.get(sha256);
  if (known) return known;
  const key = `${TABLE_VERSION}:${sha256}`;
  const hit = await store?.getRecord<string>("wheel-table", key);
  let rows = hit === undefined ? undefined : decodeRows(hit);
  if (!rows) {
    rows = await readWheelTable(wheelPath, wheel);
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

/** Rows back from a record; undefined (a miss, never a half-trusted table) when anything is off. */
export function decodeRows(text: string): WheelRow[] | undefined {
  if (typeof text !== "string") return undefined;
  if (text === "") return [];
  const rows: WheelRow[] = [];
  for (const line of text.split("\n")) {
    const f = line.split("\t");
    if (f.length !== 7) return undefined;
    const [name, ...nums] = f as [string, ...string[]];
    if (name === "" || !nums.every((n) => /^\d{1,16}$/.test(n))) return undefined;
    const [mode, method, crc32, compressedSize, uncompressedSize, dataOffset] = nums.map(Number) as number[];
    if (method !== 0 && method !== 8) return undefined;
    if ((crc32 as number) > 0xffffffff || (mode as number) > 0o7777) return undefined;
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

/**
 * Reads a wheel's file table from its central directory and local headers, after checking every
 * entry against its real bytes (verifyZipEntries). The rows' offsets and sizes are the very
 * ranges that were verified, so copying them compressed into a zip copies checked bytes.
 * `wheel` (its file name) is what errors call it; the path is a cache blob named by sha256.
 */
export async function readWheelTable(wheelPath: string, wheel = basename(wheelPath)): Promise<WheelRow[]> {
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
    const offsets = await verifyZipEntries(reader, { label: `wheel ${wheel}`, where: wheelPath });
    wheelVerifications.count++;
    const rows: WheelRow[] = [];
    for (const e of reader.entries) {
      if (e.dir) continue;
      const { name, mode, method, crc32, compressedSize, uncompressedSize } = e;
      // verifyZipEntries refused any other method and gave every entry its data offset.
      if (method !== 0 && method !== 8) throw new Error(`internal: unverified method ${method}`);
      const dataOffset = offsets.get(e);
      if (dataOffset === undefined) throw new Error(`internal: ${name} was not verified`);
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
 * Reads one wheel's entries through a single descriptor, opened on first use, at exactly the
 * ranges verified when its table was made (`dataOffset`, `compressedSize`): a zip of five
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
