import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import type { CacheStore } from "../engine/cache-store.ts";
import type { Image, Layer } from "../oci/types.ts";
import { isOsPackageFile, osPackagesOf } from "./os-packages.ts";
import type { SbomPackage } from "./sbom-model.ts";

// The OS packages of an image's base: the package databases read from the base's layer tars as
// they stream past (nothing is extracted), one cache record per layer digest, so a no-op or an
// edit reads records only. The base's layers are those below tug's own: appendLayers writes a
// `created_by: "tug"` history entry per layer it adds.

const MAX_FILE_BYTES = 32 << 20;

interface LayerOsFiles {
  files: Record<string, string>;
  /** Tracked paths a whiteout in this layer removes. */
  removed: string[];
}

/** How many of the image's top layers tug added (its trailing `created_by: "tug"` history). */
export async function ownLayerCount(image: Image): Promise<number> {
  const history = (await image.config()).history ?? [];
  let n = 0;
  for (const h of [...history].reverse()) {
    if (h.empty_layer === true) continue;
    if (h.created_by !== "tug") break;
    n++;
  }
  return n;
}

async function scanLayer(layer: Layer): Promise<LayerOsFiles> {
  const out: LayerOsFiles = { files: {}, removed: [] };
  const extract = tar.extract();
  extract.on("entry", (header, stream, next) => {
    const name = header.name.replace(/^\.?\//, "");
    const slash = name.lastIndexOf("/");
    const base = name.slice(slash + 1);
    if (base.startsWith(".wh.") && isOsPackageFile(`${name.slice(0, slash + 1)}${base.slice(4)}`))
      out.removed.push(`${name.slice(0, slash + 1)}${base.slice(4)}`);
    if (header.type === "file" && isOsPackageFile(name) && (header.size ?? 0) <= MAX_FILE_BYTES) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => chunks.push(c as Buffer));
      stream.on("end", () => {
        out.files[name] = Buffer.concat(chunks).toString("utf8");
        next();
      });
    } else {
      stream.on("end", () => next());
      stream.resume();
    }
  });
  const mediaType = layer.mediaType();
  // Only tar and tar+gzip are read; another compression (zstd) lists no OS packages.
  if (!mediaType.endsWith("tar") && !mediaType.endsWith("gzip")) return out;
  const source = await layer.compressed();
  await (mediaType.endsWith("gzip") ? pipeline(source, createGunzip(), extract) : pipeline(source, extract));
  return out;
}

/** The Debian/Alpine packages the base layers' package databases list (none for scratch/distroless-static). */
export async function baseOsPackages(image: Image, store: CacheStore): Promise<SbomPackage[]> {
  const layers = await image.layers();
  const base = layers.slice(0, layers.length - (await ownLayerCount(image)));
  const files = new Map<string, string>();
  for (const layer of base) {
    const key = await layer.digest();
    const cached = await store.getRecord<LayerOsFiles>("sbom-os", key);
    const found =
      cached && typeof cached.files === "object" && Array.isArray(cached.removed)
        ? cached
        : await scanLayer(layer);
    if (found !== cached) await store.putRecord("sbom-os", key, found);
    for (const path of found.removed) files.delete(path);
    for (const [path, text] of Object.entries(found.files))
      if (typeof text === "string") files.set(path, text);
  }
  return osPackagesOf(files);
}
