import type { Hash } from "node:crypto";
import { type FileHandle, open, rm } from "node:fs/promises";
import { FLAG_UTF8, MAX16, MAX32, SIG_CENTRAL, SIG_EOCD } from "./zip-format.ts";
import { type BegunCopy, copyAndHash, tmpPathFor } from "./zip-output.ts";
import { fileIdentity } from "./zip-reuse.ts";

/**
 * The first `entries` entries of a zip this writer made, taken as one block: where they end, their
 * central records as raw bytes, and their names. A new zip that starts with exactly these entries
 * (createZip's `head` option) copies the block and the records as they are, without a record
 * object, a sort or a comparison per entry: after an edit to a Python function's own sources its
 * ~10k wheel entries cost one read of their part of the central directory.
 */
export interface KeptHead {
  path: string;
  /** Open on the file that was read: the bytes can still be copied if the path is replaced. */
  file: FileHandle;
  /** The file read (inode, size, mtime, ctime): a copy made by path must come from this one. */
  identity: string;
  entries: number;
  /** Where the kept entries end (the first byte that is not theirs). */
  bytes: number;
  /** Their central directory records, as the file holds them. */
  directory: Buffer;
  /** Their names, in zip order (bytewise sorted within a group). */
  names: string[];
  /** The names as a set, and the directories they imply (made once, for every clash check). */
  nameSets(): { files: ReadonlySet<string>; dirs: ReadonlySet<string> };
  unpackedBytes: number;
  /**
   * Starts copying the block to a temporary file beside `near` (the zip to be written) and
   * hashing it (unless `known`, a resident process's kept hash): an edit's planning then overlaps
   * the two, and the writer takes the copy over (ZipOutput.resume). Once; later calls do nothing.
   */
  begin(near: string, known?: Hash): void;
  begun?: BegunCopy;
  /** Closes the file; a begun copy no writer took is removed. Once; later calls do nothing. */
  close(): Promise<void>;
}

/**
 * The leading `entries` entries of the zip at `path` as a KeptHead, or undefined when the file is
 * not what this writer makes (a comment, ZIP64, an extra field or comment on a record, entries
 * that are not back to back from offset 0, a directory entry, a method other than stored or
 * deflate): then the caller simply builds that part again.
 */
export async function keptHead(path: string, entries: number): Promise<KeptHead | undefined> {
  if (!Number.isInteger(entries) || entries < 1) return undefined;
  const file = await open(path, "r").catch(() => undefined);
  if (!file) return undefined;
  try {
    const head = await readHead(file, path, entries);
    if (head) return head;
  } catch {
    // unreadable: no reuse
  }
  await file.close();
  return undefined;
}

async function readHead(file: FileHandle, path: string, entries: number): Promise<KeptHead | undefined> {
  const st = await file.stat({ bigint: true });
  const size = Number(st.size);
  if (size < 22) return undefined;
  const eocd = Buffer.alloc(22);
  await file.read(eocd, 0, 22, size - 22);
  if (eocd.readUInt32LE(0) !== SIG_EOCD) return undefined;
  const count = eocd.readUInt16LE(10);
  const cdSize = eocd.readUInt32LE(12);
  const cdOffset = eocd.readUInt32LE(16);
  if (count === MAX16 || cdOffset === MAX32 || cdSize === MAX32) return undefined; // ZIP64
  if (cdOffset + cdSize + 22 !== size || count < entries) return undefined;
  const cd = Buffer.allocUnsafe(cdSize);
  const { bytesRead } = await file.read(cd, 0, cdSize, cdOffset);
  if (bytesRead !== cdSize) return undefined;
  const names: string[] = [];
  let offset = 0;
  let unpackedBytes = 0;
  let p = 0;
  // Plain byte reads: this loop runs once per edit in a fresh process, before any JIT warms up,
  // where Buffer's readUInt16LE/readUInt32LE calls cost several times as much.
  const u16 = (at: number) => (cd[at] as number) | ((cd[at + 1] as number) << 8);
  const u32 = (at: number) => (u16(at) + u16(at + 2) * 0x10000) >>> 0;
  for (let n = 0; n < entries; n++) {
    if (p + 46 > cdSize || u32(p) !== SIG_CENTRAL) return undefined;
    const nameLen = u16(p + 28);
    // This writer puts no extra field or comment on a record below 4 GiB (zip-format.ts).
    if (u16(p + 30) !== 0 || u16(p + 32) !== 0) return undefined;
    const method = u16(p + 10);
    if ((method !== 0 && method !== 8) || u32(p + 42) !== offset) return undefined;
    if (p + 46 + nameLen > cdSize) return undefined;
    const name = cd.toString(u16(p + 8) & FLAG_UTF8 ? "utf8" : "latin1", p + 46, p + 46 + nameLen);
    if (name.endsWith("/")) return undefined;
    names.push(name);
    // Local header: 30 bytes and the name, no extra field (zip-format.ts), then the data.
    offset += 30 + nameLen + u32(p + 20);
    unpackedBytes += u32(p + 24);
    p += 46 + nameLen;
  }
  if (offset > cdOffset) return undefined;
  let sets: ReturnType<KeptHead["nameSets"]> | undefined;
  let closed = false;
  const head: KeptHead = {
    path,
    file,
    identity: fileIdentity(st),
    entries,
    bytes: offset,
    directory: cd.subarray(0, p),
    names,
    unpackedBytes,
    nameSets() {
      sets ??= headNameSets(names);
      return sets;
    },
    begin(near, known) {
      if (head.begun) return;
      const tmp = tmpPathFor(near);
      const done = copyAndHash(head, tmp, known);
      done.catch(() => undefined); // the writer, or close(), sees the outcome
      head.begun = { tmp, done, taken: false };
    },
    async close() {
      if (closed) return;
      closed = true;
      const begun = head.begun;
      if (begun && !begun.taken) {
        begun.taken = true;
        await begun.done.catch(() => undefined);
        await rm(begun.tmp, { force: true });
      }
      // Not waited for: once the new zip replaced it, this descriptor holds the old file's last
      // reference, and closing it frees ~40 MB of blocks (~15 ms on ext4), which no caller needs.
      file.close().catch(() => undefined);
    },
  };
  return head;
}

function headNameSets(names: readonly string[]): { files: Set<string>; dirs: Set<string> } {
  const files = new Set(names);
  const dirs = new Set<string>();
  for (const name of names) {
    // Longest parent first: once one is known, so are all of its own parents.
    for (let i = name.lastIndexOf("/"); i > 0; i = name.lastIndexOf("/", i - 1)) {
      const dir = name.slice(0, i);
      if (dirs.has(dir)) break;
      dirs.add(dir);
    }
  }
  return { files, dirs };
}
