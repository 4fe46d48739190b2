import type { BigIntStats } from "node:fs";
import { open } from "node:fs/promises";
import { isDirEntry, type ZipEntry } from "./entry.ts";
import {
  type CentralRecord,
  centralHeaderSize,
  centralRecord,
  localHeaderSize,
  MAX16,
  MAX32,
  SIG_EOCD,
  writeCentralHeader,
} from "./zip-format.ts";

/** The leading entries of a previous zip that a new zip can keep byte for byte. */
export interface ReusableHead {
  /** The previous zip. */
  path: string;
  /** Central records of the kept entries, in order (offsets included). */
  records: CentralRecord[];
  /** Where the first entry that is not kept starts. */
  bytes: number;
  /** The file the check read (inode, size, mtime): a copy of another one must not be trusted. */
  identity: string;
}

export function fileIdentity(st: BigIntStats): string {
  return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

interface PlannedLike {
  entry: ZipEntry;
  name: Buffer;
  dir: boolean;
  mode: number;
}

/**
 * How many leading entries of `planned` the zip at `path` already holds at the offsets a fresh
 * write would give them. Only entries whose identity is known without compressing anything (raw
 * and directory entries) are candidates; each is checked by comparing the central directory record
 * this writer would produce (name, mode, method, CRC, sizes, offset) with the previous zip's own
 * record, byte for byte. Anything unexpected (no such file, a comment, ZIP64) means "nothing".
 */
export async function reusableHead(
  path: string,
  planned: readonly PlannedLike[],
): Promise<ReusableHead | undefined> {
  const fh = await open(path, "r").catch(() => undefined);
  if (!fh) return undefined;
  try {
    const st = await fh.stat({ bigint: true });
    const size = Number(st.size);
    if (size < 22) return undefined;
    const eocd = Buffer.alloc(22);
    await fh.read(eocd, 0, 22, size - 22);
    if (eocd.readUInt32LE(0) !== SIG_EOCD) return undefined; // a comment, or not a zip of ours
    const count = eocd.readUInt16LE(10);
    const cdSize = eocd.readUInt32LE(12);
    const cdOffset = eocd.readUInt32LE(16);
    if (count === MAX16 || cdOffset === MAX32 || cdSize === MAX32) return undefined; // ZIP64
    if (cdOffset + cdSize + 22 !== size) return undefined;
    const cd = Buffer.alloc(cdSize);
    await fh.read(cd, 0, cdSize, cdOffset);

    const records: CentralRecord[] = [];
    // One scratch buffer for the expected headers: ten thousand wheel entries, no allocation each.
    let expected = Buffer.alloc(1024);
    let offset = 0;
    let cdPos = 0;
    for (const p of planned) {
      if (records.length >= count) break;
      const e = p.entry;
      const identity = isDirEntry(e)
        ? { method: 0 as const, crc32: 0, compressedSize: 0, uncompressedSize: 0 }
        : "raw" in e
          ? e
          : undefined;
      if (!identity) break;
      const record = centralRecord(p, identity, offset);
      const size = centralHeaderSize(record);
      if (size > expected.length) expected = Buffer.alloc(2 * size);
      writeCentralHeader(record, expected, 0);
      if (cdPos + size > cd.length || expected.compare(cd, cdPos, cdPos + size, 0, size) !== 0) break;
      const end = offset + localHeaderSize(record) + record.compressedSize;
      if (end > cdOffset) break;
      records.push(record);
      cdPos += size;
      offset = end;
    }
    return records.length === 0 ? undefined : { path, records, bytes: offset, identity: fileIdentity(st) };
  } finally {
    await fh.close();
  }
}
