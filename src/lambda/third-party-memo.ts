import { hashJson } from "../engine/key.ts";
import type { Closure } from "../python/imports.ts";
import type { ZipEntry } from "../zip/entry.ts";
import { type KeptHead, keptHead } from "../zip/zip-head.ts";
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

/**
 * The previous zip's wheel entries as one block (zip-head.ts), when its record notes them and the
 * zip is still the file that build wrote (the caller checked its stamp; the file opened is checked
 * against it again): no lock, wheel table or layout is needed, no entry of that part is parsed
 * into an object, and the zip writer copies it with its central records as they are. Whether
 * they were built from this build's third-party inputs is the caller's check (`note.key`), so the
 * copy can start before those are known. Anything unexpected (a changed file, ZIP64, fewer
 * entries) is simply no reuse.
 */
export async function lastWheelPart(
  zipPath: string | undefined,
  record: OutputRecord | undefined,
): Promise<KeptHead | undefined> {
  const note = record?.thirdParty;
  if (!zipPath || !note) return undefined;
  const head = await keptHead(zipPath, note.entries);
  // The file opened must be the very one the record describes (not one renamed there since).
  const stamp = record.outputs[zipPath];
  const want = stamp && `${stamp.ino}:${stamp.size}:${stamp.mtimeNs}:${stamp.ctimeNs}`;
  if (head && (head.identity !== want || stamp?.size !== record.bytes)) {
    await head.close();
    return undefined;
  }
  return head;
}

/** How many leading entries of a planned zip are third-party (raw wheel entries sort first). */
export function thirdPartyCount(entries: readonly ZipEntry[]): number {
  return entries.filter((e) => !("data" in e)).length;
}
