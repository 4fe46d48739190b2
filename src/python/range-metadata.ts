import { inflateRawSync } from "node:zlib";
import { crc32 } from "../zip/crc32.ts";
import { SIG_EOCD, SIG_LOCAL } from "../zip/zip-format.ts";
import { parseCentralDirectory, type ZipReaderEntry } from "../zip/zip-reader.ts";

/** Fetches bytes of a remote file by HTTP range: `undefined` when the server does not do ranges. */
export type RangeFetch = (
  range: { start: number; end: number } | { suffix: number },
) => Promise<{ bytes: Buffer; total: number } | undefined>;

/** No real METADATA comes near this; a bigger one (declared or inflated) is refused. */
export const MAX_METADATA_BYTES = 16 * 1024 * 1024;

// The end of a wheel: the central directory of even a big wheel fits in this, usually.
const TAIL = 64 * 1024;
// Room for the local header's name and extra field, which may differ from the central copy.
const LOCAL_SLACK = 1024;

/**
 * A wheel's `*.dist-info/METADATA` read with two or three HTTP range requests (the tail holding
 * the central directory, then that one entry), so resolving against an index without PEP 658
 * metadata does not download whole wheels of versions it only looks at. Returns undefined when
 * ranges are not served or the zip is one this reader does not handle (ZIP64, a long comment);
 * the caller then downloads the wheel.
 */
export async function metadataByRange(fetch: RangeFetch, url: string): Promise<string | undefined> {
  const tail = await fetch({ suffix: TAIL });
  if (!tail) return undefined;
  const { total } = tail;
  const eocdAt = tail.bytes.lastIndexOf(eocdSignature());
  if (eocdAt < 0 || eocdAt + 22 > tail.bytes.length) return undefined;
  const count = tail.bytes.readUInt16LE(eocdAt + 10);
  const cdSize = tail.bytes.readUInt32LE(eocdAt + 12);
  const cdOffset = tail.bytes.readUInt32LE(eocdAt + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) return undefined; // ZIP64
  // Sizes come from the server: a central directory or entry bigger than any real one is not fetched.
  if (cdSize > MAX_METADATA_BYTES) return undefined;
  const tailStart = total - tail.bytes.length;
  let cd: Buffer;
  if (cdOffset >= tailStart) cd = tail.bytes.subarray(cdOffset - tailStart, cdOffset - tailStart + cdSize);
  else {
    const got = await fetch({ start: cdOffset, end: cdOffset + cdSize - 1 });
    if (!got) return undefined;
    cd = got.bytes;
  }
  let entries: ZipReaderEntry[];
  try {
    entries = parseCentralDirectory(cd, count, url);
  } catch {
    return undefined; // an odd wheel: the download path reports it properly
  }
  const entry = entries.find((e) => /^[^/]+\.dist-info\/METADATA$/.test(e.name));
  if (!entry) return undefined;
  if (entry.compressedSize > MAX_METADATA_BYTES || entry.uncompressedSize > MAX_METADATA_BYTES)
    return undefined;
  const start = entry.localHeaderOffset;
  const end =
    Math.min(total, start + 30 + Buffer.byteLength(entry.name) + LOCAL_SLACK + entry.compressedSize) - 1;
  const local = await fetch({ start, end });
  if (!local || local.bytes.readUInt32LE(0) !== SIG_LOCAL) return undefined;
  const dataAt = 30 + local.bytes.readUInt16LE(26) + local.bytes.readUInt16LE(28);
  const raw = local.bytes.subarray(dataAt, dataAt + entry.compressedSize);
  if (raw.length !== entry.compressedSize) return undefined;
  let data: Buffer | undefined;
  try {
    const inflate = () => inflateRawSync(raw, { maxOutputLength: entry.uncompressedSize + 1 });
    data = entry.method === 8 ? inflate() : entry.method === 0 ? raw : undefined;
  } catch {
    return undefined; // not deflate, or more than it declares: the download path reports it
  }
  if (!data || data.length !== entry.uncompressedSize || crc32(data) >>> 0 !== entry.crc32) return undefined;
  return data.toString("utf8");
}

function eocdSignature(): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(SIG_EOCD, 0);
  return b;
}
