import { posix, resolve } from "node:path";
import type { CacheStore } from "../engine/cache-store.ts";
import { bundledPackages, npmPackageOf } from "../node/package-info.ts";
import { hexOf, sha256 } from "../oci/digest.ts";
import type { Image, Layer } from "../oci/types.ts";
import { ownLayerCount } from "./base-os-packages.ts";
import { layerFiles } from "./layer-files.ts";
import { integrityChecksums, type SbomPackage } from "./sbom-model.ts";

// The npm packages of a Node image, for its SBOM:
// - those the bundle inlined: esbuild's metafile inputs, resolved to their package.json when the
//   bundle was made and recorded by the bundle's sha256 (recordBundledPackages); the image's
//   entrypoint script is hashed from its layer to find that record;
// - those installed in the app's node_modules (the deps layer): each package root's package.json
//   in tug's own layers, with the `integrity` of the lockfile shipped beside them when it has one.
// Each layer is read once per digest; a no-op or an edit reads records only.

const MAX_MANIFEST_BYTES = 1 << 20;
const MAX_LOCKFILE_BYTES = 64 << 20;
const MAX_SCRIPT_BYTES = 256 << 20;
const LOCKFILES = ["npm-shrinkwrap.json", "package-lock.json"];
const RECORD_VERSION = 2;

/** Records the packages a bundle inlined, keyed by the bundle's sha256 (inputs relative to `dir`). */
export async function recordBundledPackages(
  store: CacheStore,
  code: Uint8Array,
  inputs: Iterable<string>,
  dir: string,
): Promise<void> {
  const packages = await bundledPackages([...inputs].map((p) => resolve(dir, p)));
  await store.putRecord("npm-bundled", hexOf(sha256(code)), { packages });
}

interface LayerNpm {
  /** Install path (`node_modules/a/node_modules/b`) → the package.json's package. */
  installed: Record<string, SbomPackage>;
  /** The lockfile beside node_modules: install path → integrity. */
  lock?: Record<string, { version: string; integrity?: string }>;
  /** Hex sha256 of the entrypoint script, when this layer holds it. */
  script?: string;
}

/** `node_modules/a/node_modules/@s/b/package.json` (relative to the app dir) → `node_modules/a/node_modules/@s/b`. */
function packageRootOf(rel: string): string | undefined {
  const m = /^((?:node_modules\/(?:@[^/]+\/)?[^/@.][^/]*\/)+)package\.json$/.exec(rel);
  return m ? (m[1] as string).slice(0, -1) : undefined;
}

function lockEntries(text: string): LayerNpm["lock"] {
  let lock: unknown;
  try {
    lock = JSON.parse(text);
  } catch {
    return undefined;
  }
  const packages = (lock as { packages?: unknown } | null)?.packages;
  if (typeof packages !== "object" || packages === null) return undefined;
  const out: NonNullable<LayerNpm["lock"]> = {};
  for (const [path, raw] of Object.entries(packages as Record<string, unknown>)) {
    const e = raw as { version?: unknown; integrity?: unknown } | null;
    if (!path.startsWith("node_modules/") || typeof e?.version !== "string") continue;
    out[path] = {
      version: e.version,
      ...(typeof e.integrity === "string" ? { integrity: e.integrity } : {}),
    };
  }
  return out;
}

async function scanLayer(layer: Layer, appDir: string, script: string): Promise<LayerNpm> {
  const out: LayerNpm = { installed: {} };
  const prefix = `${appDir.replace(/^\/+|\/+$/g, "")}/`;
  const rel = (name: string) => (name.startsWith(prefix) ? name.slice(prefix.length) : undefined);
  const files = await layerFiles(layer, (name, size) => {
    if (name === script) return size <= MAX_SCRIPT_BYTES;
    const r = rel(name);
    if (r === undefined) return false;
    if (LOCKFILES.includes(r)) return size <= MAX_LOCKFILE_BYTES;
    return packageRootOf(r) !== undefined && size <= MAX_MANIFEST_BYTES;
  });
  const scriptBytes = files.get(script);
  if (scriptBytes) out.script = hexOf(sha256(scriptBytes));
  // npm-shrinkwrap.json wins over package-lock.json, as npm reads them.
  for (const name of LOCKFILES) {
    const text = files.get(`${prefix}${name}`);
    const lock = text ? lockEntries(text.toString("utf8")) : undefined;
    if (lock) {
      out.lock = lock;
      break;
    }
  }
  for (const [name, bytes] of files) {
    const root = packageRootOf(rel(name) ?? "");
    if (!root) continue;
    let pkg: SbomPackage | undefined;
    try {
      pkg = npmPackageOf(JSON.parse(bytes.toString("utf8")));
    } catch {
      pkg = undefined;
    }
    if (pkg) out.installed[root] = pkg;
  }
  return out;
}

function isLayerNpm(v: unknown): v is LayerNpm {
  return typeof v === "object" && v !== null && typeof (v as LayerNpm).installed === "object";
}

/** The npm packages of an image whose entrypoint runs `node SCRIPT`; none for other images. */
export async function imageNpmPackages(image: Image, store: CacheStore): Promise<SbomPackage[]> {
  const config = (await image.config()).config ?? {};
  const [runner, script] = config.Entrypoint ?? [];
  if (!runner || !/(^|\/)node(js)?$/.test(runner) || !script?.startsWith("/")) return [];
  const appDir = config.WorkingDir?.startsWith("/") ? config.WorkingDir : posix.dirname(script);
  const scriptPath = script.replace(/^\/+/, "");
  const layers = await image.layers();
  const own = layers.slice(layers.length - (await ownLayerCount(image)));
  const installed = new Map<string, SbomPackage>();
  let lock: LayerNpm["lock"];
  let scriptSha: string | undefined;
  for (const layer of own) {
    const key = `${RECORD_VERSION}:${await layer.digest()}:${appDir}:${scriptPath}`;
    const cached = await store.getRecord<LayerNpm>("sbom-npm", key);
    const found = isLayerNpm(cached) ? cached : await scanLayer(layer, appDir, scriptPath);
    if (found !== cached) await store.putRecord("sbom-npm", key, found);
    for (const [path, pkg] of Object.entries(found.installed)) installed.set(path, pkg);
    if (found.lock) lock = found.lock;
    if (typeof found.script === "string") scriptSha = found.script;
  }
  const rows = new Map<string, SbomPackage>();
  for (const [path, pkg] of installed) {
    const locked = lock?.[path];
    const checksums = locked?.version === pkg.version ? integrityChecksums(locked.integrity) : [];
    const row = { ...pkg, ...(checksums.length ? { checksums } : {}) };
    rows.set(`${row.name}@${row.version}`, row);
  }
  if (scriptSha) {
    const bundled = await store.getRecord<{ packages: SbomPackage[] }>("npm-bundled", scriptSha);
    for (const p of Array.isArray(bundled?.packages) ? bundled.packages : []) {
      const pkg = npmPackageOf({ name: p?.name, version: p?.version, license: p?.license });
      if (pkg && !rows.has(`${pkg.name}@${pkg.version}`)) rows.set(`${pkg.name}@${pkg.version}`, pkg);
    }
  }
  return [...rows.values()];
}
