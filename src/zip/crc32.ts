import * as zlib from "node:zlib";

/** CRC-32 (ISO 3309, as zip stores it) of `data`, continuing from `value` for incremental use. */
export type Crc32 = (data: Uint8Array, value?: number) => number;

// zlib.crc32 arrived in Node 20.15 / 22.2; older runtimes get the table version (~10x slower).
const native: Crc32 | undefined = typeof zlib.crc32 === "function" ? (d, v) => zlib.crc32(d, v) : undefined;

let table: Uint32Array | undefined;

function makeTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/** The portable implementation; exported so tests can check it against the native one. */
export const crc32Table: Crc32 = (data, value = 0) => {
  table ??= makeTable();
  let c = ~value >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
};

export const crc32: Crc32 = native ?? crc32Table;
