import { TugError } from "../errors.ts";
import { elfNeeds, isElf } from "../oci/elf-needs.ts";
import { canListLayer, type LayerFileTable, readLayerFileTable } from "../oci/file-table.ts";
import { type LayerEntry, normalizeLayerPath } from "../oci/tar.ts";
import type { Image } from "../oci/types.ts";
import type { Engine } from "./engine.ts";

const RECORD_KIND = "layer-files";

function isStringRecord(v: unknown, value: (x: unknown) => boolean): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every(value);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

// Records may come from a shared cache: a table of the wrong shape is a miss, never trusted.
function isFileTable(v: unknown): v is LayerFileTable {
  if (typeof v !== "object" || v === null) return false;
  const t = v as Record<string, unknown>;
  return (
    isStringRecord(t.files, (x) => typeof x === "number") &&
    isStringRecord(t.symlinks, (x) => typeof x === "string") &&
    isStringRecord(t.hardlinks, (x) => typeof x === "string") &&
    isStringArray(t.dirs) &&
    isStringArray(t.whiteouts) &&
    isStringArray(t.opaque)
  );
}

const ELF_KIND = "layer-elf";

/** Shared-library needs of one ELF file of a layer: its path (no leading `/`), DT_NEEDED, run path. */
export type ElfFile = [path: string, needed: string[], runpath: string[]];

export function isElfFiles(v: unknown): v is ElfFile[] {
  return (
    Array.isArray(v) &&
    v.every(
      (f) =>
        Array.isArray(f) &&
        f.length === 3 &&
        typeof f[0] === "string" &&
        isStringArray(f[1]) &&
        isStringArray(f[2]),
    )
  );
}

/** The ELF files of entries with inline bytes (the layers tug writes from wheels). */
export function elfFilesOfEntries(entries: readonly LayerEntry[]): ElfFile[] {
  const out: ElfFile[] = [];
  for (const e of entries) {
    if (e.type !== "file" || e.data === undefined || !isElf(e.data)) continue;
    const needs = elfNeeds(e.data);
    if (needs && needs.needed.length > 0) out.push([normalizeLayerPath(e.path), needs.needed, needs.runpath]);
  }
  return out;
}

/** Records the ELF files of a layer tug has just written (nothing when it has none). */
export async function recordLayerElf(engine: Engine, diffId: string, files: ElfFile[]): Promise<void> {
  if (files.length > 0) await engine.store.putRecord(ELF_KIND, diffId, files);
}

/** The ELF files recorded for a layer; none for layers tug did not write from inline bytes. */
export async function layerElf(engine: Engine, diffId: string): Promise<ElfFile[]> {
  return (await engine.store.getRecord(ELF_KIND, diffId, isElfFiles)) ?? [];
}

/** Records the table of a layer tug has just written, so a check of the image never reads it back. */
export async function recordLayerFiles(engine: Engine, diffId: string, table: LayerFileTable): Promise<void> {
  await engine.store.putRecord(RECORD_KIND, diffId, table);
}

/**
 * The image's file tables, one per layer, from the cache by diff_id: a base layer or an unchanged
 * app layer is listed once per machine (or shared cache), never again on a warm build.
 */
export async function imageFileTables(
  engine: Engine,
  image: Image,
  where: string,
): Promise<{ tables: LayerFileTable[]; listed: number }> {
  const [layers, config] = await Promise.all([image.layers(), image.config()]);
  let listed = 0;
  const tables = await Promise.all(
    layers.map(async (layer, i) => {
      const diffId = config.rootfs.diff_ids[i] ?? (await layer.diffId());
      const known = await engine.store.getRecord(RECORD_KIND, diffId, isFileTable);
      if (known) return known;
      if (!canListLayer(layer.mediaType())) {
        throw new TugError({
          what: `image ${where} cannot be checked: tug cannot read layers of type ${layer.mediaType()}`,
          hint: "use a base with gzip layers, or set entrypoint_check: false on this image",
        });
      }
      const table = await engine.io.run(() => readLayerFileTable(layer, where));
      await engine.store.putRecord(RECORD_KIND, diffId, table);
      listed++;
      return table;
    }),
  );
  return { tables, listed };
}
