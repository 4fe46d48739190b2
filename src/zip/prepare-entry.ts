import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { open, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createDeflateRaw } from "node:zlib";
import { TugError } from "../errors.ts";
import { crc32 } from "./crc32.ts";
import type { EntryIdentity, ZipEntry } from "./entry.ts";
import { isDirEntry } from "./entry.ts";
import { DEFLATE_OPTIONS, precompress } from "./entry-cache.ts";

export type Write = (chunk: Uint8Array) => Promise<void>;

/** An entry whose identity is known, with its bytes still to be written. */
export interface Prepared extends EntryIdentity {
  emit(write: Write): Promise<void>;
  /** Removes anything prepare left on disk; safe to call twice. */
  dispose(): Promise<void>;
}

export interface PrepareOptions {
  /** Files up to this size are compressed in memory; larger ones go through a temporary file. */
  inMemoryLimit: number;
  tmpDir: string;
}

const CHUNK = 1 << 20;
const nothing = async () => {};

function inMemory(identity: EntryIdentity, bytes: Uint8Array): Prepared {
  return { ...identity, emit: (write) => write(bytes), dispose: nothing };
}

export async function prepareEntry(e: ZipEntry, opts: PrepareOptions): Promise<Prepared> {
  if (isDirEntry(e))
    return inMemory({ method: 0, crc32: 0, compressedSize: 0, uncompressedSize: 0 }, new Uint8Array());
  if ("raw" in e) {
    const { method, crc32, compressedSize, uncompressedSize } = e;
    const identity = { method, crc32, compressedSize, uncompressedSize };
    // Asked for now, within the writer's look-ahead, so several reads are in flight at once.
    const source = Promise.resolve().then(() => e.raw());
    source.catch(() => {}); // observed by emit, or dropped with the entry on failure
    const emit = async (write: Write) => copyRaw(e.name, await source, compressedSize, write);
    const dispose = async () => {
      const s = await source.catch(() => undefined);
      if (s && !(s instanceof Uint8Array) && !s.readableEnded) s.destroy();
    };
    return { ...identity, emit, dispose };
  }
  if ("data" in e) {
    const { rawBytes, ...identity } = await precompress(e.data);
    return inMemory(identity, rawBytes);
  }
  const size = (await stat(e.source)).size;
  if (size <= opts.inMemoryLimit) {
    const { rawBytes, ...identity } = await precompress(await readFile(e.source));
    return inMemory(identity, rawBytes);
  }
  return spill(e.name, e.source, opts.tmpDir);
}

async function copyRaw(
  name: string,
  src: Readable | Uint8Array,
  expected: number,
  write: Write,
): Promise<void> {
  let n = 0;
  if (src instanceof Uint8Array) {
    n = src.length;
    if (n === expected) await write(src);
  } else {
    for await (const chunk of src as AsyncIterable<Uint8Array>) {
      n += chunk.length;
      if (n > expected) break;
      await write(chunk);
    }
  }
  if (n !== expected) {
    throw new TugError({
      what: `pre-compressed zip entry ${name} has ${n > expected ? "more than " : ""}${n} bytes, but its record says ${expected}`,
      hint: "the entry cache is damaged; clear it (tug cache prune) and build again",
    });
  }
}

/**
 * Deflates a big file into a temporary file while computing its CRC, so the local header can
 * carry the real sizes (no data descriptor) with memory staying flat whatever the file size.
 */
async function spill(name: string, source: string, tmpDir: string): Promise<Prepared> {
  const tmp = join(tmpDir, `tug-zip-${randomBytes(6).toString("hex")}.deflate`);
  const dispose = () => rm(tmp, { force: true });
  let crc = 0;
  let size = 0;
  try {
    await pipeline(
      createReadStream(source, { highWaterMark: CHUNK }),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const c of chunks) {
          crc = crc32(c, crc);
          size += c.length;
          yield c;
        }
      },
      createDeflateRaw({ ...DEFLATE_OPTIONS, chunkSize: CHUNK }),
      createWriteStream(tmp),
    );
    const compressedSize = (await stat(tmp)).size;
    if (compressedSize < size) {
      return {
        method: 8,
        crc32: crc,
        compressedSize,
        uncompressedSize: size,
        emit: async (write) => void (await copyFile(tmp, compressedSize, write)),
        dispose,
      };
    }
  } catch (err) {
    await dispose();
    throw err;
  }
  // Deflate did not help: store the file itself, re-read and checked against the first pass.
  await dispose();
  return {
    method: 0,
    crc32: crc,
    compressedSize: size,
    uncompressedSize: size,
    emit: async (write) => {
      const again = await copyFile(source, size, write);
      if (again !== crc) throw fileChanged(name, source, size, "its content changed");
    },
    dispose: nothing,
  };
}

/** Writes exactly `size` bytes of `path`; fails if it is shorter or longer. Returns their CRC. */
async function copyFile(path: string, size: number, write: Write): Promise<number> {
  const fh = await open(path, "r");
  try {
    let pos = 0;
    let crc = 0;
    while (pos < size) {
      const want = Math.min(CHUNK, size - pos);
      const { bytesRead, buffer } = await fh.read(Buffer.allocUnsafe(want), 0, want, pos);
      if (bytesRead === 0) throw fileChanged(path, path, size, `it now has ${pos}`);
      const chunk = buffer.subarray(0, bytesRead);
      crc = crc32(chunk, crc);
      pos += bytesRead;
      await write(chunk);
    }
    const probe = await fh.read(Buffer.alloc(1), 0, 1, size);
    if (probe.bytesRead !== 0) throw fileChanged(path, path, size, "it has grown");
    return crc;
  } finally {
    await fh.close();
  }
}

function fileChanged(name: string, source: string, size: number, now: string): TugError {
  return new TugError({
    what: `file changed while it was zipped: ${source} (expected ${size} bytes, ${now})`,
    where: name,
    hint: "stop whatever is writing it and build again",
  });
}
