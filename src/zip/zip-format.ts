// Record layouts from PKWARE's APPNOTE.TXT 6.3.x (sections 4.3.7, 4.3.12, 4.3.14-16, 4.5.3).
// Everything here is pure: a record in, bytes out.

export const SIG_LOCAL = 0x04034b50;
export const SIG_CENTRAL = 0x02014b50;
export const SIG_EOCD = 0x06054b50;
export const SIG_ZIP64_EOCD = 0x06064b50;
export const SIG_ZIP64_LOCATOR = 0x07064b50;
export const ZIP64_EXTRA = 0x0001;

export const MAX16 = 0xffff;
export const MAX32 = 0xffffffff;

// 1980-01-01 00:00:00, the earliest DOS time, as constants: no Date, so no time zone (4.4.6).
export const DOS_DATE = (0 << 9) | (1 << 5) | 1;
export const DOS_TIME = 0;

/** General-purpose flag bit 11: name and comment are UTF-8 (APPNOTE appendix D). */
export const FLAG_UTF8 = 1 << 11;

const UNIX = 3;
const VERSION = 45; // 4.5: ZIP64. Made-by must be at least any version-needed we write.
export const VERSION_MADE_BY = (UNIX << 8) | VERSION;

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const MSDOS_DIR = 0x10;

export interface CentralRecord {
  name: Buffer;
  dir: boolean;
  mode: number;
  method: 0 | 8;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  offset: number;
}

/** The central record of an entry at `offset`, from what is known of its bytes. */
export function centralRecord(
  entry: { name: Buffer; dir: boolean; mode: number },
  identity: { method: 0 | 8; crc32: number; compressedSize: number; uncompressedSize: number },
  offset: number,
): CentralRecord {
  const { name, dir, mode } = entry;
  const { method, compressedSize, uncompressedSize } = identity;
  return { name, dir, mode, method, crc32: identity.crc32 >>> 0, compressedSize, uncompressedSize, offset };
}

/** Whether an entry's sizes need the ZIP64 extra field (a 32-bit field equal to MAX32 means "see extra"). */
function sizes64(r: CentralRecord, force: boolean): boolean {
  return force || r.compressedSize >= MAX32 || r.uncompressedSize >= MAX32;
}

function offset64(r: CentralRecord, force: boolean): boolean {
  return force || r.offset >= MAX32;
}

function versionNeeded(r: CentralRecord, force: boolean): number {
  if (sizes64(r, force) || offset64(r, force)) return 45;
  return r.method === 8 || r.dir ? 20 : 10;
}

function flags(name: Buffer): number {
  for (const b of name) if (b >= 0x80) return FLAG_UTF8;
  return 0;
}

function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeBigUInt64LE(BigInt(value), at);
}

/** The local file header of an entry whose CRC and sizes are already known. */
export function localHeader(r: CentralRecord, force = false): Buffer {
  const z64 = sizes64(r, force);
  const extra = z64 ? 20 : 0;
  const b = Buffer.alloc(localHeaderSize(r, force));
  b.writeUInt32LE(SIG_LOCAL, 0);
  b.writeUInt16LE(versionNeeded(r, force), 4);
  b.writeUInt16LE(flags(r.name), 6);
  b.writeUInt16LE(r.method, 8);
  b.writeUInt16LE(DOS_TIME, 10);
  b.writeUInt16LE(DOS_DATE, 12);
  b.writeUInt32LE(r.crc32, 14);
  b.writeUInt32LE(z64 ? MAX32 : r.compressedSize, 18);
  b.writeUInt32LE(z64 ? MAX32 : r.uncompressedSize, 22);
  b.writeUInt16LE(r.name.length, 26);
  b.writeUInt16LE(extra, 28);
  r.name.copy(b, 30);
  if (z64) {
    // In a local header the ZIP64 extra holds both sizes, always (4.5.3).
    const at = 30 + r.name.length;
    b.writeUInt16LE(ZIP64_EXTRA, at);
    b.writeUInt16LE(16, at + 2);
    writeU64(b, r.uncompressedSize, at + 4);
    writeU64(b, r.compressedSize, at + 12);
  }
  return b;
}

/** The ZIP64 fields a central header carries: only those whose 32-bit slot overflows, in this order (4.5.3). */
function central64(r: CentralRecord, force: boolean): { big: boolean; far: boolean; fields: number[] } {
  const big = sizes64(r, force);
  const far = offset64(r, force);
  const fields = big ? [r.uncompressedSize, r.compressedSize] : [];
  if (far) fields.push(r.offset);
  return { big, far, fields };
}

/** The size of an entry's local file header (what precedes its data). */
export function localHeaderSize(r: CentralRecord, force = false): number {
  return 30 + r.name.length + (sizes64(r, force) ? 20 : 0);
}

/** The size of an entry's central directory header. */
export function centralHeaderSize(r: CentralRecord, force = false): number {
  const n = central64(r, force).fields.length;
  return 46 + r.name.length + (n ? 4 + 8 * n : 0);
}

/**
 * Writes the central directory header of an entry into `b` at `at` (centralHeaderSize bytes):
 * a whole directory goes into one buffer, and a comparison needs no buffer per entry.
 */
export function writeCentralHeader(r: CentralRecord, b: Buffer, at: number, force = false): void {
  const { big, far, fields } = central64(r, force);
  const extra = fields.length ? 4 + 8 * fields.length : 0;
  b.fill(0, at, at + 46);
  b.writeUInt32LE(SIG_CENTRAL, at);
  b.writeUInt16LE(VERSION_MADE_BY, at + 4);
  b.writeUInt16LE(versionNeeded(r, force), at + 6);
  b.writeUInt16LE(flags(r.name), at + 8);
  b.writeUInt16LE(r.method, at + 10);
  b.writeUInt16LE(DOS_TIME, at + 12);
  b.writeUInt16LE(DOS_DATE, at + 14);
  b.writeUInt32LE(r.crc32, at + 16);
  b.writeUInt32LE(big ? MAX32 : r.compressedSize, at + 20);
  b.writeUInt32LE(big ? MAX32 : r.uncompressedSize, at + 24);
  b.writeUInt16LE(r.name.length, at + 28);
  b.writeUInt16LE(extra, at + 30);
  // comment length, disk number start, internal attributes: all 0
  const external = r.dir ? (((S_IFDIR | 0o755) << 16) | MSDOS_DIR) >>> 0 : ((S_IFREG | r.mode) << 16) >>> 0;
  b.writeUInt32LE(external, at + 38);
  b.writeUInt32LE(far ? MAX32 : r.offset, at + 42);
  r.name.copy(b, at + 46);
  if (extra) {
    const x = at + 46 + r.name.length;
    b.writeUInt16LE(ZIP64_EXTRA, x);
    b.writeUInt16LE(extra - 4, x + 2);
    for (const [i, v] of fields.entries()) writeU64(b, v, x + 4 + 8 * i);
  }
}

export interface DirectoryEnd {
  count: number;
  cdOffset: number;
  cdSize: number;
}

/** End of central directory, preceded by the ZIP64 end record and locator when anything overflows. */
export function endRecords(end: DirectoryEnd, force = false): Buffer {
  const { count, cdOffset, cdSize } = end;
  const z64 = force || count >= MAX16 || cdOffset >= MAX32 || cdSize >= MAX32;
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(SIG_EOCD, 0);
  eocd.writeUInt16LE(Math.min(count, MAX16), 8);
  eocd.writeUInt16LE(Math.min(count, MAX16), 10);
  eocd.writeUInt32LE(Math.min(cdSize, MAX32), 12);
  eocd.writeUInt32LE(Math.min(cdOffset, MAX32), 16);
  if (!z64) return eocd;
  const rec = Buffer.alloc(56 + 20);
  rec.writeUInt32LE(SIG_ZIP64_EOCD, 0);
  writeU64(rec, 44, 4); // size of the rest of this record
  rec.writeUInt16LE(VERSION_MADE_BY, 12);
  rec.writeUInt16LE(45, 14);
  writeU64(rec, count, 24);
  writeU64(rec, count, 32);
  writeU64(rec, cdSize, 40);
  writeU64(rec, cdOffset, 48);
  rec.writeUInt32LE(SIG_ZIP64_LOCATOR, 56);
  writeU64(rec, cdOffset + cdSize, 64); // where the ZIP64 end record starts
  rec.writeUInt32LE(1, 72); // total number of disks
  return Buffer.concat([rec, eocd]);
}
