import type { Hash } from "node:crypto";
import { tmpdir } from "node:os";
import type { Writable } from "node:stream";
import { TugError } from "../errors.ts";
import { invalidNameReason, isDirEntry, normalizeMode, type ZipEntry } from "./entry.ts";
import { type Prepared, prepareEntry } from "./prepare-entry.ts";
import {
  type CentralRecord,
  centralHeaderSize,
  centralRecord,
  endRecords,
  localHeader,
  writeCentralHeader,
} from "./zip-format.ts";
import type { KeptHead } from "./zip-head.ts";
import { ZipOutput } from "./zip-output.ts";
import { reusableHead } from "./zip-reuse.ts";

export interface ZipOptions {
  /** "always" writes ZIP64 records for every entry (for tests and tools that want them); default "auto". */
  zip64?: "auto" | "always";
  /** Files up to this size are compressed in memory; larger ones stream through `tmpDir`. Default 4 MiB. */
  inMemoryLimit?: number;
  /** Where big files are deflated before their header is written; default the OS temp dir. */
  tmpDir?: string;
  /** How many entries are compressed ahead of the one being written; default 8. */
  lookahead?: number;
  /**
   * Entries are ordered by group first (ascending), then bytewise by name. Putting what changes
   * most (a function's own sources) in a later group keeps it at the end of the zip, where
   * `reuse` can rewrite it alone. Default: every entry in group 0.
   */
  group?: (entry: ZipEntry) => number;
  /**
   * A previous zip at a path (usually the one being replaced): its leading entries that are
   * exactly what this zip would start with are copied as a block instead of written one by one.
   * The result is byte-for-byte what a fresh write gives. Ignored for stream outputs and ZIP64.
   */
  reuse?: string;
  /**
   * The sha256 state of `reuse`'s first `bytes` bytes, when the caller kept it (a resident
   * process that wrote that zip): if the reusable head is exactly that long, it is not read again.
   */
  reuseHash?: { bytes: number; hash: Hash };
  /**
   * The zip starts with these entries of another zip (zip-head.ts), copied as one block with their
   * central records; `entries` are only what follows them. The caller vouches that a fresh write
   * of the head's entries and `entries` together would put the head's first (an earlier group),
   * so the bytes are those of that fresh write. Names are still checked across both. File paths
   * only; the caller closes the head. `reuse` is then ignored.
   */
  head?: KeptHead;
  /** Told where the first entry of a later group starts, with the sha256 state there. */
  onGroupBoundary?(at: { bytes: number; hash: Hash }): void;
}

export interface ZipResult {
  /** Size of the zip. */
  bytes: number;
  /** Sum of the entries' uncompressed sizes. */
  unpackedBytes: number;
  /** Hex sha256 of the zip's bytes. */
  sha256: string;
  entries: number;
  /** How many leading entries came from `reuse` unchanged. */
  reused: number;
}

interface Planned {
  entry: ZipEntry;
  name: Buffer;
  dir: boolean;
  mode: number;
  group: number;
}

/**
 * Writes a deterministic zip of `entries` to `out` (a stream, which is ended, or a file path,
 * written atomically). The bytes depend only on the entries' names, modes and contents: entries
 * are sorted by group (see ZipOptions.group), then bytewise by name, timestamps are 1980-01-01 00:00, modes are 0644/0755, there are no
 * extra fields except ZIP64 when sizes, offsets or the entry count need it, and no data
 * descriptors. Pre-compressed entries are copied byte for byte.
 */
export async function createZip(
  entries: AsyncIterable<ZipEntry> | Iterable<ZipEntry>,
  out: Writable | string,
  options: ZipOptions = {},
): Promise<ZipResult> {
  const force = options.zip64 === "always";
  const fileOut = typeof out === "string" ? out : undefined;
  const keptHead = fileOut !== undefined && !force ? options.head : undefined;
  if (options.head && !keptHead)
    throw new Error("createZip: a kept head needs a file path and no forced ZIP64");
  const planned = await plan(entries, options.group ?? (() => 0), keptHead?.nameSets());
  const head =
    options.reuse && fileOut !== undefined && !force && !keptHead
      ? await reusableHead(options.reuse, planned)
      : undefined;
  const prepareOptions = {
    inMemoryLimit: options.inMemoryLimit ?? 4 * 1024 * 1024,
    tmpDir: options.tmpDir ?? tmpdir(),
  };
  const lookahead = Math.max(1, options.lookahead ?? 8);
  const base = keptHead ?? head;
  const known = base && options.reuseHash?.bytes === base.bytes ? options.reuseHash.hash.copy() : undefined;
  const resumed = base && fileOut !== undefined ? await ZipOutput.resume(fileOut, base, known) : undefined;
  if (keptHead && !resumed) throw new Error("createZip: the kept head could not be copied");
  const output = resumed ?? ZipOutput.open(out);
  const kept = resumed && head ? head : undefined;
  const first = kept?.records.length ?? 0;
  const write = (chunk: Uint8Array) => output.write(chunk);
  // Entries are compressed up to `lookahead` ahead (zlib runs on the threadpool) but written in order.
  const pending: Promise<Prepared>[] = [];
  const ahead = (i: number) => {
    const p = planned[first + i];
    if (p === undefined) return;
    const prepared = prepareEntry(p.entry, prepareOptions);
    prepared.catch(() => {}); // observed when its turn comes, or disposed on failure
    pending[i] = prepared;
  };
  const records: CentralRecord[] = [...(kept?.records ?? [])];
  let unpackedBytes = records.reduce((n, r) => n + r.uncompressedSize, keptHead?.unpackedBytes ?? 0);
  try {
    for (let i = 0; i < lookahead; i++) ahead(i);
    for (let i = 0; first + i < planned.length; i++) {
      const p = planned[first + i]!;
      const prepared = await pending[i]!;
      ahead(i + lookahead);
      const before = first + i === 0 ? undefined : planned[first + i - 1];
      if ((before && before.group !== p.group) || (keptHead && i === 0))
        options.onGroupBoundary?.({ bytes: output.offset, hash: output.hashSoFar() });
      const record = centralRecord(p, prepared, output.offset);
      try {
        await write(localHeader(record, force));
        await prepared.emit(write);
      } finally {
        await prepared.dispose();
      }
      records.push(record);
      unpackedBytes += record.uncompressedSize;
    }
    const cdOffset = output.offset;
    // The directory as one buffer: one write and one hash update instead of one per entry.
    const headDir = keptHead?.directory;
    const cd = Buffer.allocUnsafe(
      records.reduce((n, r) => n + centralHeaderSize(r, force), headDir?.length ?? 0),
    );
    let at = headDir ? headDir.copy(cd, 0) : 0;
    for (const r of records) {
      writeCentralHeader(r, cd, at, force);
      at += centralHeaderSize(r, force);
    }
    await write(cd);
    const cdSize = output.offset - cdOffset;
    const count = records.length + (keptHead?.entries ?? 0);
    await write(endRecords({ count, cdOffset, cdSize }, force));
    const bytes = output.offset;
    const sha256 = await output.finish();
    return { bytes, unpackedBytes, sha256, entries: count, reused: first + (keptHead?.entries ?? 0) };
  } catch (err) {
    const settled = await Promise.allSettled(pending.slice(records.length - first + 1));
    for (const s of settled) if (s.status === "fulfilled") await s.value.dispose();
    await output.abort(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}

/** Validated, normalised entries in bytewise name order; duplicates and file/dir clashes refused. */
async function plan(
  entries: AsyncIterable<ZipEntry> | Iterable<ZipEntry>,
  groupOf: (entry: ZipEntry) => number,
  head: { files: ReadonlySet<string>; dirs: ReadonlySet<string> } = { files: new Set(), dirs: new Set() },
): Promise<Planned[]> {
  const byName = new Map<string, Planned>();
  for await (const entry of entries) {
    const dir = isDirEntry(entry);
    const reason = invalidNameReason(entry.name, dir);
    if (reason) {
      throw new TugError({ what: `zip entry name ${JSON.stringify(entry.name)} is refused: ${reason}` });
    }
    if (byName.has(entry.name) || head.files.has(entry.name)) {
      throw new TugError({
        what: `zip entry ${entry.name} is given twice`,
        hint: "two sources map to the same path in the zip; keep one of them",
      });
    }
    const mode = dir ? 0o755 : normalizeMode(entry.mode);
    byName.set(entry.name, {
      entry,
      name: Buffer.from(entry.name, "utf8"),
      dir,
      mode,
      group: groupOf(entry),
    });
  }
  for (const p of byName.values()) {
    // "a" as a file and "a/b" cannot both be extracted.
    if (!p.dir && head.dirs.has(p.entry.name)) {
      throw new TugError({ what: `zip entry ${p.entry.name} is a file, and a directory of other entries` });
    }
    for (let i = p.entry.name.indexOf("/"); i > 0 && i < p.entry.name.length - 1; ) {
      const parent = p.entry.name.slice(0, i);
      if (byName.has(parent) || head.files.has(parent)) {
        throw new TugError({ what: `zip entry ${p.entry.name} is inside ${parent}, which is a file` });
      }
      i = p.entry.name.indexOf("/", i + 1);
    }
  }
  return [...byName.values()].sort((a, b) => a.group - b.group || Buffer.compare(a.name, b.name));
}
