import { stat } from "node:fs/promises";
import { hashJson } from "../engine/key.ts";
import type { Closure } from "../python/imports.ts";
import { WheelFile } from "../python/wheel-table.ts";
import type { ZipEntry, ZipRawEntry } from "../zip/entry.ts";
import { normalizeMode } from "../zip/entry.ts";
import { ZipReader } from "../zip/zip-reader.ts";
import type { OutputRecord } from "./output-record.ts";

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
  const size = await stat(zipPath).then(
    (st) => st.size,
    () => undefined,
  );
  if (size !== record.bytes) return undefined;
  // Corrupt or not ours after all: no reuse, the wheel part is built again.
  const reader = await ZipReader.open(zipPath).catch(() => undefined);
  if (!reader) return undefined;
  try {
    if (reader.entries.length < note.entries) return undefined;
    const file = new WheelFile(zipPath);
    const entries: ZipRawEntry[] = [];
    for (const e of reader.entries.slice(0, note.entries)) {
      if (e.dir || (e.method !== 0 && e.method !== 8)) return undefined;
      const method: 0 | 8 = e.method;
      // This writer's local headers carry no extra field below 4 GiB (zip-format.ts).
      const row = {
        name: e.name,
        mode: normalizeMode(e.mode),
        method,
        crc32: e.crc32,
        compressedSize: e.compressedSize,
        uncompressedSize: e.uncompressedSize,
        dataOffset: e.localHeaderOffset + 30 + Buffer.byteLength(e.name),
      };
      entries.push({ ...row, raw: () => file.raw(row) });
    }
    return { entries, file };
  } finally {
    await reader.close();
  }
}

/** How many leading entries of a planned zip are third-party (raw wheel entries sort first). */
export function thirdPartyCount(entries: readonly ZipEntry[]): number {
  return entries.filter((e) => !("data" in e)).length;
}
