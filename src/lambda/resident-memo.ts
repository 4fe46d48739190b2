// A long-lived process (`tug server`) keeps each zip's head hash between builds, as `tug dev`
// does: an edit to first-party code then hashes only the new tail, not the ~40 MB of wheels
// before it again. The memo trusts a head only while the zip's stamp is the one it wrote.
import type { ZipMemo } from "./planned-zip.ts";

let resident: ZipMemo | undefined;

/** From now on this process remembers zip heads between builds (called once by `tug server`). */
export function keepZipHeads(): void {
  resident ??= { heads: new Map() };
}

/** The process's memo, when it keeps one. */
export function residentZipMemo(): ZipMemo | undefined {
  return resident;
}
