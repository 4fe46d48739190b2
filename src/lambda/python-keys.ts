import { dirname, join } from "node:path";
import type { Project, PythonLambdaTarget, PythonLayerTarget } from "../config/types.ts";
import { hashJson } from "../engine/key.ts";
import { indexUrlsForKeys } from "../python/index-urls.ts";
import { formatGlibc } from "../python/runtime.ts";
import { sbomStamp } from "../sbom/sbom-model.ts";
import type { PythonContext } from "./python-context.ts";
import { ATTESTATION_VERSION } from "./zip-attestations.ts";

// Bump when what a lambda or layer zip holds or how it is laid out changes: old records then miss.
// 3: parent packages' __init__.py, package data files and `include:` are part of the zip.
const LAMBDA_FORMAT = 3;
const LAYER_FORMAT = 1;

/** Where `tug build` writes lambda zips: `--out DIR` → DIR/lambdas, else `.tug/out/lambdas`. */
export function lambdaOutDir(project: Project, out: string | undefined): string {
  return join(out ?? join(project.dir, ".tug", "out"), "lambdas");
}

type KeyContext = Pick<
  PythonContext,
  "project" | "settings" | "indexUrls" | "outDir" | "sbom" | "provenance"
>;

/**
 * The documents a zip gets: the SBOM's format and `created` time (SOURCE_DATE_EPOCH), and
 * whether a provenance statement is written beside it.
 */
export function sbomForKey(ctx: Pick<KeyContext, "sbom" | "provenance">): string {
  const sbom = ctx.sbom === "none" ? "none" : `${ctx.sbom}@${sbomStamp().created}`;
  return `${sbom}/${ATTESTATION_VERSION}${ctx.provenance ? "+provenance" : ""}`;
}

export function lambdaZipPath(ctx: Pick<PythonContext, "outDir">, name: string): string {
  return join(ctx.outDir, `${name}.zip`);
}

/** Where `tug build` writes layer zips: next to the lambdas, under `layers/`. */
export function layerZipPath(ctx: Pick<PythonContext, "outDir">, name: string): string {
  return join(dirname(ctx.outDir), "layers", `${name}.zip`);
}

/** What in a layer's definition decides its bytes, for the keys of the layer and its users. */
export function layerIdentity(layer: PythonLayerTarget): Record<string, unknown> {
  const t = layer.runtime;
  return {
    name: layer.name,
    runtime: t.runtime,
    arch: t.arch,
    glibc: formatGlibc(t.glibc),
    python: t.fullVersion,
    requirements: layer.requirements,
    upload: layer.upload,
  };
}

/** The settings as a key holds them: index URLs without a login (see indexUrlsForKeys). */
function settingsForKey(settings: KeyContext["settings"]): KeyContext["settings"] {
  const out = { ...settings, extraIndexUrls: indexUrlsForKeys(settings.extraIndexUrls) };
  if (settings.indexUrl !== undefined) out.indexUrl = indexUrlsForKeys([settings.indexUrl])[0] ?? "";
  return out;
}

/** A lambda's output-record key: everything about it that is not a file's content. */
export function lambdaKey(target: PythonLambdaTarget, ctx: KeyContext): string {
  const layers = target.layers.map((name) => ctx.project.layers?.find((l) => l.name === name));
  return hashJson({
    v: LAMBDA_FORMAT,
    zipPath: lambdaZipPath(ctx, target.name),
    runtime: target.runtime.runtime,
    arch: target.runtime.arch,
    glibc: formatGlibc(target.runtime.glibc),
    python: target.runtime.fullVersion,
    upload: target.upload,
    handler: [target.handlerFile, target.handlerFunction],
    include: target.include,
    layers: layers.map((l) => (l ? layerIdentity(l) : null)),
    indexUrls: indexUrlsForKeys(ctx.indexUrls),
    settings: settingsForKey(ctx.settings),
    sbom: sbomForKey(ctx),
  });
}

export function layerKey(layer: PythonLayerTarget, ctx: KeyContext): string {
  return hashJson({
    v: LAYER_FORMAT,
    zipPath: layerZipPath(ctx, layer.name),
    layer: layerIdentity(layer),
    indexUrls: indexUrlsForKeys(ctx.indexUrls),
    strip: ctx.settings.strip,
    sbom: sbomForKey(ctx),
  });
}
