// The part of planning a Python lambda that resolves requirements and lays out wheels: loaded
// only when a build cannot reuse the last zip's wheel part (see third-party-memo.ts).
import type { PythonLambdaTarget, PythonLayerTarget } from "../config/types.ts";
import { isTugError, TugError } from "../errors.ts";
import type { Closure } from "../python/imports.ts";
import { lockedResolution } from "../python/locked-resolution.ts";
import { importProvided, type ModuleTree, mergeTrees } from "../python/module-providers.ts";
import type { FileRequirement } from "../python/requirements-file.ts";
import type { RequirementsSource } from "../python/requirements-source.ts";
import { resolvedWheels } from "../python/resolved-wheels.ts";
import type { Resolution } from "../python/resolver.ts";
import type { WheelEntries } from "../python/wheel-layout.ts";
import type { WheelFile } from "../python/wheel-table.ts";
import type { KeptHead } from "../zip/zip-head.ts";
import { layerResolution } from "./build-lambda-layer.ts";
import { functionRequirements, treeOf } from "./function-requirements.ts";
import type { WheelDistribution } from "./planned-zip.ts";
import type { PythonContext } from "./python-context.ts";

/** A function's third-party part: its distributions, their zip entries, and what they provide. */
export interface ThirdPartyPart {
  distributions: WheelDistribution[];
  lists: WheelEntries[];
  wheels: WheelFile[];
  provided: (i: Closure["imports"][number]) => boolean;
  /** Checks that could not be made (an unreachable index): the zip is then not recorded. */
  unsure: string[];
  /** The last zip's wheel part, kept as one block instead of `lists` (third-party-memo.ts). */
  head?: KeptHead;
}

/** Resolves the requirements the function imports and lays their wheels out. */
export async function resolvedThirdPartyPart(
  target: PythonLambdaTarget,
  ctx: PythonContext,
  closure: Closure,
  source: RequirementsSource,
  pins: Map<string, string>,
  fromLayers: { pins: Map<string, string>; tree: ModuleTree },
): Promise<ThirdPartyPart> {
  const lockOf = (requirements: FileRequirement[], constraints: FileRequirement[]) => (fresh: boolean) =>
    lockedResolution({
      requirements,
      source: { ...source, pins, constraints },
      target: target.runtime,
      ctx,
      fresh,
    });
  const { resolution, unsure } = await functionRequirements({
    closure,
    source,
    layerTree: fromLayers.tree,
    resolveFor: (requirements, constraints) => withWheels(lockOf(requirements, constraints), ctx),
    resolveAlone: (requirement, constraints) => lockOf([requirement], constraints)(false),
    ctx,
  });
  // The layer provides these, at the versions just pinned: the function's zip leaves them out.
  const own = resolution.distributions.filter((d) => !fromLayers.pins.has(d.name));
  const { lists, tree, wheels } = await resolvedWheels(
    { ...resolution, distributions: own },
    {
      index: ctx.index,
      store: ctx.store,
      strip: ctx.settings.strip,
      moduleMapping: ctx.settings.moduleMapping,
    },
  );
  const provided = mergeTrees([tree, fromLayers.tree]);
  return {
    distributions: own.map(({ name, version, wheel, sha256 }) => ({ name, version, wheel, sha256 })),
    lists,
    wheels,
    provided: (i) => importProvided(provided, i),
    unsure,
  };
}

/**
 * A resolution whose wheels are all at hand. A lock can outlive its wheels (the index dropped
 * or rebuilt a file, a shared cache evicted it): then it is resolved afresh once, and replaced.
 */
async function withWheels(
  resolve: (fresh: boolean) => Promise<Resolution & { fromLock?: boolean }>,
  ctx: PythonContext,
): Promise<Resolution> {
  const fetchAll = (r: Resolution) =>
    Promise.all(
      r.distributions.map((d) => ctx.index.wheelPath({ filename: d.wheel, url: d.url, sha256: d.sha256 })),
    );
  const locked = await resolve(false);
  try {
    await fetchAll(locked);
    return locked;
  } catch (e) {
    if (!locked.fromLock || !isTugError(e)) throw e;
    const fresh = await resolve(true);
    await fetchAll(fresh);
    return fresh;
  }
}

/**
 * The versions a function's layers fix (their distributions become exact pins for the function's
 * own resolution, so what the function imports from a layer is what the layer ships) and the
 * modules they provide. A requirements-file pin that disagrees with a layer is an error.
 */
export async function layerPins(
  target: PythonLambdaTarget,
  layers: readonly PythonLayerTarget[],
  ctx: PythonContext,
): Promise<{ pins: Map<string, string>; tree: ModuleTree }> {
  const pins = new Map<string, string>();
  const trees: ModuleTree[] = [];
  for (const layer of layers) {
    const resolution = await layerResolution(layer, ctx);
    for (const d of resolution.distributions) {
      const other = pins.get(d.name);
      if (other !== undefined && other !== d.version) {
        throw new TugError({
          what: `lambda ${target.name}'s layers disagree: ${d.name} ${other} in one, ${d.version} in ${layer.name}`,
          where: target.where,
          hint: "pin the same version in both layers' requirements, or use one of them",
        });
      }
      pins.set(d.name, d.version);
    }
    trees.push(await treeOf(resolution, ctx));
  }
  return { pins, tree: mergeTrees(trees) };
}
