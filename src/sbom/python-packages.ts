import type { CacheStore } from "../engine/cache-store.ts";
import type { Image } from "../oci/types.ts";
import { metadataHeaders } from "../python/index-page.ts";
import { parseWheelOrigin, WHEEL_ORIGIN_FILE } from "../python/wheel-origin.ts";
import { ownLayerCount } from "./base-os-packages.ts";
import { layerFiles } from "./layer-files.ts";
import { pythonLicense } from "./licenses.ts";
import type { SbomPackage } from "./sbom-model.ts";

// The Python distributions of an image, for its SBOM: each `NAME.dist-info/METADATA` directly in
// a PYTHONPATH directory (the python builder installs wheels into /app/site-packages) of tug's
// own layers, with its name, version and license (licenses.ts). Read once per layer digest.

const MAX_METADATA_BYTES = 4 << 20;
const RECORD_VERSION = 2;

type LayerDists = Record<string, SbomPackage>;

/** The distributions installed on the image's PYTHONPATH by its own layers; none without one. */
export async function imagePythonPackages(image: Image, store: CacheStore): Promise<SbomPackage[]> {
  const env = (await image.config()).config?.Env ?? [];
  const path = env.find((e) => e.startsWith("PYTHONPATH="))?.slice("PYTHONPATH=".length) ?? "";
  const dirs = path
    .split(":")
    .filter((d) => d.startsWith("/"))
    .map((d) => `${d.replace(/^\/+|\/+$/g, "")}/`);
  if (dirs.length === 0) return [];
  const layers = await image.layers();
  const own = layers.slice(layers.length - (await ownLayerCount(image)));
  const found = new Map<string, SbomPackage>();
  for (const layer of own) {
    const key = `${RECORD_VERSION}:${await layer.digest()}:${dirs.join(":")}`;
    const cached = await store.getRecord<LayerDists>("sbom-python", key);
    let dists = typeof cached === "object" && cached !== null ? cached : undefined;
    if (!dists) {
      const wanted = (name: string) =>
        dirs.some(
          (d) =>
            name.startsWith(d) &&
            /^[^/]+\.dist-info\/(?:METADATA|tug-wheel\.json)$/.test(name.slice(d.length)),
        );
      const files = await layerFiles(layer, (name, size) => wanted(name) && size <= MAX_METADATA_BYTES);
      dists = {};
      for (const [name, bytes] of files) {
        if (!name.endsWith("/METADATA")) continue;
        const text = bytes.toString("utf8");
        const h = metadataHeaders(text);
        const [dist, version] = [h.get("name")?.[0], h.get("version")?.[0]];
        if (!dist || !version) continue;
        const license = pythonLicense(text);
        const origin = parseWheelOrigin(files.get(name.replace(/METADATA$/, WHEEL_ORIGIN_FILE)));
        dists[name] = { ecosystem: "pypi", name: dist, version, ...origin, ...(license ? { license } : {}) };
      }
      await store.putRecord("sbom-python", key, dists);
    }
    for (const [name, p] of Object.entries(dists)) found.set(name, p);
  }
  const rows = new Map([...found.values()].map((p) => [`${p.name}@${p.version}`, p]));
  return [...rows.values()];
}
