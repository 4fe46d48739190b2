import { open } from "node:fs/promises";
import { hashJson } from "../engine/key.ts";
import type { ZipEntry, ZipRawEntry } from "../zip/entry.ts";
import { normalizeMode } from "../zip/entry.ts";
import { MAX16, MAX32, SIG_EOCD } from "../zip/zip-format.ts";
import { parseCentralDirectory } from "../zip/zip-reader.ts";
import type { OutputRecord } from "./output-record.ts";
import type { Closure } from "./python/imports.ts";
import { WheelFile } from "./python/wheel-table.ts";

// Bump when what the key covers or how the part is laid out changes.
const MEMO_FORMAT = 1;

/**
 * What decides a function zip's third-party part (the wheels' entries, which come first): which
 * modules its sources import and the requirement files' bytes, besides what the output record's
 * key already holds (runtime, settings, layers' definitions). The layers' pinned versions count
 * too. Line numbers and first-party contents do not: editing a handler keeps the key.
 */
export function thirdPartyKey(
  closure: Pick<Closure, "imports" | "thirdParty">,
  requirementFiles: ReadonlyMap<string, string>,
  layerPins: ReadonlyMap<string, string>,
): string {
  const imports = [
    ...new Set(closure.imports.map((i) => `${i.module}|${i.weak ? 1 : 0}|${(i.names ?? []).join(",")}`)),
  ].sort();
  return hashJson({
    v: MEMO_FORMAT,
    imports,
    thirdParty: [...closure.thirdParty].sort(),
    requirements: [...requirementFiles].sort(([a], [b]) => (a < b ? -1 : 1)),
    layerPins: [...layerPins].sort(([a], [b]) => (a < b ? -1 : 1)),
  });
}

/** The record's note on its zip's third-party part (see OutputRecord.thirdParty). */
export interface ThirdPartyNote {
  key: string;
  /** How many leading entries of the zip are the wheels'. */
  entries: number;
  /** Modules the sources import that no wheel provides, for the warnings. */
  unprovided: string[];
}

export interface ReusedThirdParty {
  entries: ZipRawEntry[];
  /** Reads the entries' bytes from the previous zip, if the writer cannot copy them as a block. */
  file: WheelFile;
}

/**
 * The previous zip's wheel entries, when its record says they were built from exactly these
 * third-party inputs and the zip is still the file that build wrote (the caller checked its
 * stamp): then no lock, wheel table or layout is needed, and the zip writer copies that part as
 * one block. Anything unexpected (a changed file, ZIP64, fewer entries) is simply no reuse.
 */
export async function reusedThirdParty(
  zipPath: string | undefined,
  record: OutputRecord | undefined,
  key: string,
): Promise<ReusedThirdParty | undefined> {
  const note = record?.thirdParty;
  if (!zipPath || !note || note.key !== key) return undefined;
  const fh = await open(zipPath, "r").catch(() => undefined);
  if (!fh) return undefined;
  try {
    const { size } = await fh.stat();
    if (size < 22 || size !== record.bytes) return undefined;
    const eocd = Buffer.alloc(22);
    await fh.read(eocd, 0, 22, size - 22);
    if (eocd.readUInt32LE(0) !== SIG_EOCD) return undefined;
    const count = eocd.readUInt16LE(10);
    const cdSize = eocd.readUInt32LE(12);
    const cdOffset = eocd.readUInt32LE(16);
    if (count === MAX16 || cdOffset === MAX32 || cdSize === MAX32 || count < note.entries) return undefined;
    if (cdOffset + cdSize + 22 !== size) return undefined;
    const cd = Buffer.alloc(cdSize);
    await fh.read(cd, 0, cdSize, cdOffset);
    const head = parseCentralDirectory(cd, count, zipPath).slice(0, note.entries);
    const file = new WheelFile(zipPath);
    const entries: ZipRawEntry[] = [];
    for (const e of head) {
      if (e.dir || (e.method !== 0 && e.method !== 8)) return undefined;
      // This writer's local headers carry no extra field below 4 GiB (zip-format.ts).
      const dataOffset = e.localHeaderOffset + 30 + Buffer.byteLength(e.name);
      const row = { dataOffset, compressedSize: e.compressedSize };
      entries.push({
        name: e.name,
        mode: normalizeMode(e.mode),
        method: e.method,
        crc32: e.crc32,
        compressedSize: e.compressedSize,
        uncompressedSize: e.uncompressedSize,
        raw: () =>
          file.raw({
            ...row,
            name: e.name,
            mode: e.mode,
            method: e.method as 0 | 8,
            crc32: e.crc32,
            uncompressedSize: e.uncompressedSize,
          }),
      });
    }
    return { entries, file };
  } finally {
    await fh.close();
  }
}

/** How many leading entries of a planned zip are third-party (raw wheel entries sort first). */
export function thirdPartyCount(entries: readonly ZipEntry[]): number {
  return entries.filter((e) => !("data" in e)).length;
}
