import type { PythonLayerTarget } from "../config/types.ts";
import { lockedResolution } from "../python/locked-resolution.ts";
import { parseRequirement } from "../python/requirement.ts";
import { closeWheels, resolvedWheels } from "../python/resolved-wheels.ts";
import type { Resolution } from "../python/resolver.ts";
import { mergeWheels } from "../python/wheel-layout.ts";
import { checkLimits } from "./limits.ts";
import { type PlannedZip, PYTHON_ZIP_GROUP, previousOutput } from "./planned-zip.ts";
import type { PythonContext } from "./python-context.ts";
import { layerKey, layerZipPath } from "./python-keys.ts";

/** The layer's resolution for its own runtime (a lock record after the first time). */
export function layerResolution(layer: PythonLayerTarget, ctx: PythonContext): Promise<Resolution> {
  const requirements = layer.requirements.map((line) => parseRequirement(line, `${layer.where}: ${line}`));
  const source = { pins: new Map<string, string>(), hashes: new Map<string, string[]>() };
  return lockedResolution({ requirements, source, target: layer.runtime, ctx });
}

/**
 * Plans a Lambda layer zip: the resolved wheels laid out under `python/` (where the Python
 * runtimes put a layer on `sys.path`), checked against Lambda's size limits. Functions that list
 * the layer resolve with its versions pinned and leave its distributions out of their own zips.
 */
export async function planPythonLayer(layer: PythonLayerTarget, ctx: PythonContext): Promise<PlannedZip> {
  const started = performance.now();
  const zipPath = layerZipPath(ctx, layer.name);
  const key = layerKey(layer, ctx);
  const { previous, current, reason } = await previousOutput(
    ctx.store,
    key,
    zipPath,
    { target: layer.name, kind: "layer" },
    started,
    ctx.project.dir,
  );
  if (current) return { kind: "current", report: current };

  const resolution = await layerResolution(layer, ctx);
  const { lists, wheels } = await resolvedWheels(resolution, {
    index: ctx.index,
    store: ctx.store,
    strip: ctx.settings.strip,
    prefix: "python/",
  });
  try {
    const entries = mergeWheels(lists);
    checkLimits({ name: layer.name, where: layer.where, upload: layer.upload }, lists);
    return {
      kind: "write",
      name: layer.name,
      reportKind: "layer",
      zipPath,
      group: PYTHON_ZIP_GROUP,
      key,
      entries,
      distributions: resolution.distributions.map(({ name, version, wheel, sha256 }) => ({
        name,
        version,
        wheel,
        sha256,
      })),
      sbom: ctx.sbom,
      ...(ctx.provenance
        ? { provenance: { ctx: ctx.provenance, target: layer, lockDirs: [ctx.project.dir] } }
        : {}),
      meta: {
        runtime: layer.runtime.runtime,
        architecture: layer.runtime.arch,
        compatibleRuntimes: [layer.runtime.runtime],
      },
      inputs: { files: {}, probes: {} },
      ...(reason ? { reason } : {}),
      previous,
      wheels,
      warnings: [],
      started,
    };
  } catch (e) {
    await closeWheels(wheels);
    throw e;
  }
}
