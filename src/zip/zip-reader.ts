import { type FileHandle, open } from "node:fs/promises";
import { pipeline, Readable, Transform, type TransformCallback } from "node:stream";
import { createInflateRaw } from "node:zlib";
import { TugError } from "../errors.ts";
import { crc32 } from "./crc32.ts";
import { type EntryIdentity, escapeReason, type ZipRawEntry } from "./entry.ts";
import {
  FLAG_UTF8,
  MAX16,
  MAX32,
  SIG_CENTRAL,
  SIG_EOCD,
  SIG_LOCAL,
  SIG_ZIP64_EOCD,
  SIG_ZIP64_LOCATOR,
  ZIP64_EXTRA,
} from "./zip-format.ts";

export interface ZipReaderEntry extends Omit<EntryIdentity, "method"> {
  /** Compression method as recorded; only 0 (stored) and 8 (deflate) can be read. */
  method: number;
  name: string;
  dir: boolean;
  /** Unix permission bits from the external attributes (0 when the zip was not made on unix). */
  mode: number;
  flags: number;
  localHeaderOffset: number;
}

/** An entry's local header as found at its offset (APPNOTE 4.3.7), for checking against the central one. */
export interface LocalHeader {
  flags: number;
  method: number;
  /** The name decoded as the central record's flags say, so equal bytes give equal strings. */
  name: string;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Where the entry's stored bytes start. */
  dataOffset: number;
}

const CHUNK = 1 << 20;
// Every central header is at least this long: an end record claiming more entries than fit lies.
const CENTRAL_MIN = 46;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/**
 * A minimal zip reader over the central directory: lists entries, streams an entry's stored bytes
 * as they are, or inflates them with CRC and size checked. Names that would escape the extraction
 * root are refused when the zip is opened (zip-slip), whatever the caller does with them later.
 */
export class ZipReader {
  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    readonly entries: readonly ZipReaderEntry[],
    /** Where the central directory starts: every entry's bytes must end before it. */
    readonly centralDirectoryOffset: number,
  ) {}

  static async open(path: string): Promise<ZipReader> {
    const fh = await open(path, "r");
    try {
      const { entries, cdOffset } = await readDirectory(fh, path);
      return new ZipReader(fh, path, entries, cdOffset);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  close(): Promise<void> {
    return this.fh.close();
  }

  /** Where the entry's stored bytes start: after its local header, whose name and extra may differ from the central ones. */
  async dataOffset(entry: ZipReaderEntry): Promise<number> {
    const head = await readAt(this.fh, entry.localHeaderOffset, 30);
    if (head.readUInt32LE(0) !== SIG_LOCAL) throw this.corrupt(`no local header for ${entry.name}`);
    if (head.readUInt16LE(6) & 1) throw this.corrupt(`${entry.name} is encrypted`);
    return entry.localHeaderOffset + 30 + head.readUInt16LE(26) + head.readUInt16LE(28);
  }

  /** The entry's local header, with ZIP64 sizes applied; throws when there is none at its offset. */
  async localHeader(entry: ZipReaderEntry): Promise<LocalHeader> {
    // One read in the usual case: the local name is as long as the central one, extras are short.
    const guess = 30 + Buffer.byteLength(entry.name) + 64;
    const head = await readAt(this.fh, entry.localHeaderOffset, guess);
    if (head.length < 30 || head.readUInt32LE(0) !== SIG_LOCAL)
      throw this.corrupt(`no local header for ${entry.name}`);
    const nameLen = head.readUInt16LE(26);
    const extraLen = head.readUInt16LE(28);
    const tail =
      30 + nameLen + extraLen <= head.length
        ? head.subarray(30, 30 + nameLen + extraLen)
        : await readAt(this.fh, entry.localHeaderOffset + 30, nameLen + extraLen);
    if (tail.length < nameLen + extraLen)
      throw this.corrupt(`the local header of ${entry.name} is cut short`);
    let compressedSize = head.readUInt32LE(18);
    let uncompressedSize = head.readUInt32LE(22);
    const extra = tail.subarray(nameLen);
    for (let e = 0; e + 4 <= extra.length; e += 4 + extra.readUInt16LE(e + 2)) {
      if (extra.readUInt16LE(e) !== ZIP64_EXTRA) continue;
      // In a local header the ZIP64 extra holds both sizes, uncompressed first (APPNOTE 4.5.3).
      if (e + 20 > extra.length) break;
      if (uncompressedSize === MAX32) uncompressedSize = Number(extra.readBigUInt64LE(e + 4));
      if (compressedSize === MAX32) compressedSize = Number(extra.readBigUInt64LE(e + 12));
    }
    return {
      flags: head.readUInt16LE(6),
      method: head.readUInt16LE(8),
      name: tail.subarray(0, nameLen).toString(entry.flags & FLAG_UTF8 ? "utf8" : "latin1"),
      crc32: head.readUInt32LE(14),
      compressedSize,
      uncompressedSize,
      dataOffset: entry.localHeaderOffset + 30 + nameLen + extraLen,
    };
  }

  /** `length` bytes at `position` (fewer only at the end of the file). */
  readAt(position: number, length: number): Promise<Buffer> {
    return readAt(this.fh, position, length);
  }

  /** The entry's bytes exactly as stored (deflated or not). */
  async raw(entry: ZipReaderEntry): Promise<Readable> {
    const start = await this.dataOffset(entry);
    return Readable.from(chunks(this.fh, start, entry.compressedSize, this.path));
  }

  /** The entry's uncompressed content, checked against its CRC and size as it streams. */
  async open(entry: ZipReaderEntry): Promise<Readable> {
    if (entry.method !== 0 && entry.method !== 8) {
      throw this.corrupt(
        `${entry.name} uses compression method ${String(entry.method)}; only 0 and 8 are read`,
      );
    }
    const raw = await this.raw(entry);
    const check = verifier(entry, this.path);
    // pipeline destroys the last stream with the first error, so a reader of it sees every failure.
    if (entry.method === 0) return pipeline(raw, check, () => {});
    return pipeline(raw, createInflateRaw(), check, () => {});
  }

  async read(entry: ZipReaderEntry): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of await this.open(entry)) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  /** The entry as a writer entry whose compressed bytes are copied from this zip unchanged. */
  asRawEntry(entry: ZipReaderEntry, name = entry.name): ZipRawEntry {
    const { method, crc32, compressedSize, uncompressedSize, mode } = entry;
    if (method !== 0 && method !== 8) throw this.corrupt(`${entry.name} uses compression method ${method}`);
    return { name, mode, method, crc32, compressedSize, uncompressedSize, raw: () => this.raw(entry) };
  }

  private corrupt(what: string): TugError {
    return new TugError({ what: `unreadable zip: ${what}`, where: this.path });
  }
}

async function readAt(fh: FileHandle, pos: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, pos);
  return buf.subarray(0, bytesRead);
}

async function* chunks(fh: FileHandle, start: number, size: number, path: string): AsyncGenerator<Buffer> {
  for (let pos = 0; pos < size; ) {
    const got = await readAt(fh, start + pos, Math.min(CHUNK, size - pos));
    if (got.length === 0)
      throw new TugError({ what: "unreadable zip: it ends inside an entry", where: path });
    pos += got.length;
    yield got;
  }
}

function verifier(entry: ZipReaderEntry, path: string): Transform {
  let crc = 0;
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      if (crc === entry.crc32 && size === entry.uncompressedSize) return cb();
      cb(new TugError({ what: `zip entry ${entry.name} is corrupt (CRC or size mismatch)`, where: path }));
    },
  });
}

async function readDirectory(
  fh: FileHandle,
  path: string,
): Promise<{ entries: ZipReaderEntry[]; cdOffset: number }> {
  const corrupt = (what: string) => new TugError({ what: `unreadable zip: ${what}`, where: path });
  const fileSize = (await fh.stat()).size;
  // The end record is the last 22 bytes plus a comment of at most 64 KiB.
  const tailStart = Math.max(0, fileSize - (22 + MAX16));
  const tail = await readAt(fh, tailStart, fileSize - tailStart);
  let at = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD && i + 22 + tail.readUInt16LE(i + 20) === tail.length) {
      at = i;
      break;
    }
  }
  if (at < 0) throw corrupt("no end of central directory record (not a zip file?)");
  let count = tail.readUInt16LE(at + 10);
  let cdSize = tail.readUInt32LE(at + 12);
  let cdOffset = tail.readUInt32LE(at + 16);
  const eocdPos = tailStart + at;
  if (eocdPos >= 20) {
    const loc = await readAt(fh, eocdPos - 20, 20);
    if (loc.readUInt32LE(0) === SIG_ZIP64_LOCATOR) {
      const rec = await readAt(fh, Number(loc.readBigUInt64LE(8)), 56);
      if (rec.length < 56 || rec.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw corrupt("bad ZIP64 end record");
      count = Number(rec.readBigUInt64LE(32));
      cdSize = Number(rec.readBigUInt64LE(40));
      cdOffset = Number(rec.readBigUInt64LE(48));
    }
  }
  if (cdOffset + cdSize > fileSize) throw corrupt("the central directory lies past the end of the file");
  return { entries: parseCentralDirectory(await readAt(fh, cdOffset, cdSize), count, path), cdOffset };
}

/**
 * The entries of a central directory already in memory (`count` of them, from the end record):
 * names checked for zip-slip, ZIP64 extras applied, symbolic links refused. `path` names the
 * zip in errors (a file, or a URL when the directory came by range requests).
 */
export function parseCentralDirectory(cd: Buffer, count: number, path: string): ZipReaderEntry[] {
  const corrupt = (what: string) => new TugError({ what: `unreadable zip: ${what}`, where: path });
  if (count > cd.length / CENTRAL_MIN) {
    throw corrupt(
      `the end record claims ${count} entries; a central directory of ${cd.length} bytes holds at most ${Math.floor(cd.length / CENTRAL_MIN)}`,
    );
  }
  const entries: ZipReaderEntry[] = [];
  let p = 0;
  for (let n = 0; n < count; n++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) throw corrupt(`bad central header #${n}`);
    const flags = cd.readUInt16LE(p + 8);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const rawName = cd.subarray(p + 46, p + 46 + nameLen);
    // Without the UTF-8 flag names are CP437; latin1 keeps ASCII right and never throws.
    const name = rawName.toString(flags & FLAG_UTF8 ? "utf8" : "latin1");
    const escapes = escapeReason(name);
    if (escapes) {
      throw new TugError({
        what: `zip entry ${JSON.stringify(name)} would be extracted outside the target directory: ${escapes}`,
        where: path,
        hint: "the archive is malformed or malicious; do not use it",
      });
    }
    let uncompressedSize = cd.readUInt32LE(p + 24);
    let compressedSize = cd.readUInt32LE(p + 20);
    let localHeaderOffset = cd.readUInt32LE(p + 42);
    const extra = cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
    for (let e = 0; e + 4 <= extra.length; e += 4 + extra.readUInt16LE(e + 2)) {
      if (extra.readUInt16LE(e) !== ZIP64_EXTRA) continue;
      let f = e + 4;
      const next = () => {
        const v = Number(extra.readBigUInt64LE(f));
        f += 8;
        return v;
      };
      if (uncompressedSize === MAX32) uncompressedSize = next();
      if (compressedSize === MAX32) compressedSize = next();
      if (localHeaderOffset === MAX32) localHeaderOffset = next();
    }
    const external = cd.readUInt32LE(p + 38);
    const madeOnUnix = cd.readUInt8(p + 5) === 3;
    if (madeOnUnix && ((external >>> 16) & S_IFMT) === S_IFLNK) {
      // A symlink entry followed by a file "through" it is zip-slip by another route.
      throw new TugError({
        what: `zip entry ${name} is a symbolic link; links are not extracted`,
        where: path,
      });
    }
    entries.push({
      name,
      dir: name.endsWith("/"),
      mode: madeOnUnix ? (external >>> 16) & 0o7777 : 0,
      flags,
      method: cd.readUInt16LE(p + 10),
      crc32: cd.readUInt32LE(p + 16),
      compressedSize,
      uncompressedSize,
      localHeaderOffset,
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}
