import { promises as fs } from "node:fs";
import { type BuildLayerResult, buildLayer, recompress } from "../oci/build-layer.ts";
import { type Compression, compressionKey } from "../oci/compress.ts";
import { type Digest, isDigest } from "../oci/digest.ts";
import { fileTableOfEntries } from "../oci/file-table.ts";
import { fileLayer } from "../oci/layer.ts";
import { type LayerEntry, sourceDateEpoch } from "../oci/tar.ts";
import type { Layer } from "../oci/types.ts";
import type { Engine } from "./engine.ts";
import { recordExplain } from "./explain.ts";
import { elfFilesOfEntries, recordLayerElf, recordLayerFiles } from "./image-files.ts";
import { actionKey } from "./key.ts";
import { withKeyLock } from "./key-lock.ts";
import {
  type LayerPart,
  layerFromParts,
  PartsDamaged,
  type PartsLayer,
  partsSupported,
} from "./layer-parts.ts";
import { assertUnchanged, type SourceFile, subtreeDigest } from "./source-tree.ts";

export type ParamValue = string | number | boolean | string[];

/** One layer-producing action: what it reads, and how to produce the layer's files. */
export interface LayerRecipe {
  target: string;
  /** Step name shown in timings and explain, e.g. "app linux/amd64". */
  step: string;
  kind: string;
  version: number;
  params: Record<string, ParamValue>;
  /** Named input file sets; only their digests enter the key. */
  trees: Record<string, SourceFile[]>;
  produce(): Promise<{ entries: LayerEntry[]; cleanup?: () => Promise<void> }>;
  /**
   * The same layer's files as independently cached parts (layer-parts.ts), in layer order: a
   * change to one part then rewrites only that part. produce() stays the reference (and the path
   * taken when parts conflict).
   */
  parts?(): Promise<LayerPart[]>;
  /**
   * False for actions that may write into their own inputs' directory (user commands): the
   * check that no input changed while the layer was built would then always fail.
   */
  inputsStable?: boolean;
}

interface LayerRecord {
  diffId: Digest;
}
interface DescriptorRecord {
  digest: Digest;
  size: number;
  mediaType: string;
}

// Records come back from disk and from the shared cache: each digest must be `sha256:` + 64 hex
// before it names a blob file or a URL, each size a byte count (rule 1 of issue 9).
const MEDIA_TYPE_RE = /^[A-Za-z0-9][\w.+-]{0,126}\/[A-Za-z0-9][\w.+-]{0,126}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isLayerRecord(v: unknown): v is LayerRecord {
  return isObject(v) && typeof v.diffId === "string" && isDigest(v.diffId);
}

function isDescriptorRecord(v: unknown): v is DescriptorRecord {
  return (
    isObject(v) &&
    typeof v.digest === "string" &&
    isDigest(v.digest) &&
    typeof v.size === "number" &&
    Number.isSafeInteger(v.size) &&
    v.size >= 0 &&
    typeof v.mediaType === "string" &&
    MEDIA_TYPE_RE.test(v.mediaType)
  );
}

function isDiffRecord(v: unknown): v is DescriptorRecord & { diffId: Digest } {
  return isDescriptorRecord(v) && isLayerRecord(v);
}

export const layerRecordChecks = { isLayerRecord, isDescriptorRecord, isDiffRecord };

export function recipeKey(r: LayerRecipe): string {
  const trees = Object.fromEntries(Object.entries(r.trees).map(([k, files]) => [k, subtreeDigest(files)]));
  // The tar's timestamps come from SOURCE_DATE_EPOCH, so it is an input of every layer.
  const mtime = sourceDateEpoch();
  return actionKey({ kind: r.kind, version: r.version, inputs: { params: r.params, trees, mtime } });
}

export interface LayerResult {
  layer: Layer;
  cached: boolean;
  key: string;
}

/**
 * The KOCACHE chain: action key → diffID → (diffID, compression) → descriptor → blob in the
 * CAS. When all three are known the layer is returned without reading or writing a byte.
 */
export async function cachedLayer(
  engine: Engine,
  recipe: LayerRecipe,
  compression: Compression,
): Promise<LayerResult> {
  const key = recipeKey(recipe);
  await recordExplain(engine, recipe, key);
  return engine.timings.step<LayerResult>(recipe.target, recipe.step, async () => {
    const hit = await lookup(engine, key, compression);
    if (hit && !hit.cached)
      engine.timings.log(
        recipe.target,
        `${recipe.step}: recompressed from the cached layer (contents unchanged)`,
      );
    if (hit) return { value: { layer: hit.layer, cached: hit.cached, key }, cached: hit.cached };
    return withKeyLock(engine.store.root, key, async () => {
      // Another process may have finished the same action while we waited for the lock.
      const late = await lookup(engine, key, compression);
      if (late) return { value: { layer: late.layer, cached: late.cached, key }, cached: late.cached };
      const layer = await engine.cpu.run(() => produceLayer(engine, recipe, key, compression));
      return { value: { layer, cached: false, key }, cached: false };
    });
  });
}

/**
 * `cached: false` when the layer had to be recompressed: its bytes and digest are new, so the
 * image is not the one built before (a `compression:` change).
 */
async function lookup(
  engine: Engine,
  key: string,
  compression: Compression,
): Promise<{ layer: Layer; cached: boolean } | undefined> {
  const rec = await engine.store.getRecord("layer", key, isLayerRecord);
  if (!rec) return undefined;
  const descKey = `${rec.diffId}|${compressionKey(compression)}`;
  const desc = await engine.store.getRecord("desc", descKey, isDescriptorRecord);
  if (desc && (await engine.store.ensureBlob(desc.digest, desc.size))) {
    engine.store.touchBlob(desc.digest);
    return { layer: layerFromStore(engine, rec.diffId, desc), cached: true };
  }
  // The diffID is known but not in this compression: recompress from any blob we hold.
  const other = await engine.store.getRecord("diff", rec.diffId, isDiffRecord);
  if (!other || !(await engine.store.ensureBlob(other.digest, other.size))) return undefined;
  return engine.cpu.run(async () => {
    const plain = await fileLayer({
      path: engine.store.blobPath(other.digest),
      ...other,
      diffId: rec.diffId,
    }).uncompressed();
    const out = await engine.store.tempPath("recompress");
    const res = await recompress(plain, compression, out);
    if (res.diffId !== rec.diffId) {
      await fs.rm(out, { force: true });
      return undefined;
    }
    return { layer: await storeLayer(engine, key, res, out, compression), cached: false };
  });
}

async function produceLayer(
  engine: Engine,
  recipe: LayerRecipe,
  key: string,
  compression: Compression,
): Promise<Layer> {
  const out = await engine.store.tempPath("layer");
  if (recipe.parts && partsSupported(compression)) {
    try {
      const built = await partsLayer(engine, recipe, await recipe.parts(), compression, out);
      if (built) {
        const layer = await storeLayer(engine, key, built, out, compression);
        await recordLayerFiles(engine, built.diffId, built.table);
        await recordLayerElf(engine, built.diffId, built.elf);
        return layer;
      }
    } catch (e) {
      await fs.rm(out, { force: true });
      throw e;
    }
  }
  const { entries, cleanup } = await recipe.produce();
  try {
    const res = await buildLayer({ entries, compression, outFile: out });
    if (recipe.inputsStable !== false)
      await assertUnchanged(Object.values(recipe.trees).flat(), recipe.target);
    const layer = await storeLayer(engine, key, res, out, compression);
    await recordLayerFiles(engine, res.diffId, fileTableOfEntries(entries));
    await recordLayerElf(engine, res.diffId, elfFilesOfEntries(entries));
    return layer;
  } catch (e) {
    await fs.rm(out, { force: true });
    throw e;
  } finally {
    await cleanup?.();
  }
}

async function partsLayer(
  engine: Engine,
  recipe: LayerRecipe,
  parts: LayerPart[],
  compression: Compression,
  out: string,
): Promise<PartsLayer | undefined> {
  const scope = `${recipe.kind}/${recipe.version}`;
  for (let attempt = 1; ; attempt++) {
    try {
      return await layerFromParts(engine, scope, parts, compression, out);
    } catch (e) {
      // Damaged cached parts were removed: the second attempt produces them again; should that
      // fail too, the layer is written whole.
      if (!(e instanceof PartsDamaged)) throw e;
      if (attempt === 2) return undefined;
    }
  }
}

async function storeLayer(
  engine: Engine,
  key: string,
  res: Pick<BuildLayerResult, "diffId" | "digest" | "size" | "mediaType">,
  tempFile: string,
  compression: Compression,
): Promise<Layer> {
  // Blob first, then records: a record never points at a blob that is not there yet.
  const path = await engine.store.ingestBlob(tempFile, res.digest);
  engine.store.remote?.putBlob(res.digest, res.size, path);
  const desc: DescriptorRecord = { digest: res.digest, size: res.size, mediaType: res.mediaType };
  await engine.store.putRecord("desc", `${res.diffId}|${compressionKey(compression)}`, desc);
  await engine.store.putRecord("diff", res.diffId, { ...desc, diffId: res.diffId });
  await engine.store.putRecord<LayerRecord>("layer", key, { diffId: res.diffId });
  return layerFromStore(engine, res.diffId, desc);
}

function layerFromStore(engine: Engine, diffId: Digest, desc: DescriptorRecord): Layer {
  return fileLayer({
    path: engine.store.blobPath(desc.digest),
    digest: desc.digest,
    diffId,
    size: desc.size,
    mediaType: desc.mediaType,
  });
}
