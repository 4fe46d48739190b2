import { relative, sep } from "node:path";
import { isTugError, TugError } from "../errors.ts";
import type { firstPartyClosure } from "../python/imports.ts";
import {
  importedPaths,
  importProvided,
  type ModuleTree,
  mergeTrees,
  providesImport,
} from "../python/module-providers.ts";
import { normalizeName } from "../python/name.ts";
import type { FileRequirement } from "../python/requirements-file.ts";
import type { RequirementsSource } from "../python/requirements-source.ts";
import { treeOfWheel } from "../python/resolved-wheels.ts";
import { type Resolution, requirementsFor } from "../python/resolver.ts";
import { guessTopLevel } from "../python/top-level.ts";
import { cachedWheelTable } from "../python/wheel-table.ts";
import type { PythonContext } from "./python-context.ts";

type Closure = Awaited<ReturnType<typeof firstPartyClosure>>;
type ClosureImport = Closure["imports"][number];

export interface FunctionRequirementsOptions {
  closure: Closure;
  source: Pick<RequirementsSource, "requirements" | "constraints">;
  /** What the function's layers provide. */
  layerTree: ModuleTree;
  /** Resolves a set of requirements, with the given requirement lines as `-c` constraints. */
  resolveFor: (requirements: FileRequirement[], constraints: FileRequirement[]) => Promise<Resolution>;
  ctx: PythonContext;
  /** Resolves one candidate requirement alone (for asking its wheel what it installs). */
  resolveAlone: (requirement: FileRequirement, constraints: FileRequirement[]) => Promise<Resolution>;
}

export interface FunctionRequirements {
  requirements: FileRequirement[];
  resolution: Resolution;
  /** Requirements that could not be checked (index down, …): a warning, and no record. */
  unsure: string[];
}

/**
 * Every requirement line a function does not select still constrains the versions of what it
 * does install, as in one `pip install -r` of the whole file: a pip-compile lock pinning numpy
 * 1.26.4 gives a handler importing only pandas numpy 1.26.4. `-c` lines stay constraints.
 */
export function constraintsBeside(
  source: Pick<RequirementsSource, "requirements" | "constraints">,
  selected: readonly FileRequirement[],
): FileRequirement[] {
  const chosen = new Set(selected);
  return [...(source.constraints ?? []), ...source.requirements.filter((r) => !chosen.has(r))];
}

/**
 * The requirements one function needs, and their resolution. First those whose import names
 * (module_mapping, else the usual names) cover a top-level module the function imports; then,
 * for each import the chosen wheels do not provide by its full dotted path (a namespace package
 * such as `google.type` beside protobuf's `google.protobuf`), every other requirement whose own
 * wheel does. A requirement with no wheel for this target is never taken as "does not provide
 * it": when an import is left that nothing provides, such a requirement's error is the build's.
 */
export async function functionRequirements(opts: FunctionRequirementsOptions): Promise<FunctionRequirements> {
  const { closure, source, ctx } = opts;
  const { moduleMapping } = ctx.settings;
  const topLevelOf = (dist: string) => moduleMapping[dist] ?? guessTopLevel(dist);
  let requirements = requirementsFor(source.requirements, closure.thirdParty, topLevelOf);
  let resolution = await opts.resolveFor(requirements, constraintsBeside(source, requirements));
  const unsure: string[] = [];
  const treeNow = async () => mergeTrees([await treeOf(resolution, ctx), opts.layerTree]);
  let tree = await treeNow();
  const missing = closure.imports.filter((i) => !importProvided(tree, i));
  if (missing.length === 0) return { ...(await withoutBystanders(requirements, resolution, opts)), unsure };

  const others = source.requirements.filter((r) => !requirements.includes(r));
  const unresolvable: Array<{ requirement: FileRequirement; error: TugError }> = [];
  const found: FileRequirement[] = [];
  for (const r of others) {
    const alone = await opts.resolveAlone(r, constraintsBeside(source, [r])).catch((e: unknown) => {
      if (isTugError(e) && NOT_FOR_THIS_TARGET.test(e.what)) unresolvable.push({ requirement: r, error: e });
      else unsure.push(`${r.text}: ${isTugError(e) ? e.what : String(e)}`);
      return undefined;
    });
    const own = alone?.distributions.find((d) => d.name === normalizeName(r.name));
    if (!alone || !own) continue;
    const ownTree = await treeOf({ target: alone.target, distributions: [own] }, ctx).catch((e: unknown) => {
      unsure.push(`${r.text}: ${isTugError(e) ? e.what : String(e)}`);
      return undefined;
    });
    // One path of a `from a import b, c` is enough: b and c may come from different distributions.
    if (ownTree && missing.some((i) => importedPaths(i).some((p) => providesImport(ownTree, p))))
      found.push(r);
  }
  if (found.length > 0) {
    requirements = [...requirements, ...found];
    resolution = await opts.resolveFor(requirements, constraintsBeside(source, requirements));
    tree = await treeNow();
  }
  const left = closure.imports.filter((i) => !i.weak && !importProvided(tree, i));
  if (left.length > 0 && unresolvable.length > 0) {
    throw onlyProvider(left, unresolvable, ctx.project.dir);
  }
  return { ...(await withoutBystanders(requirements, resolution, opts)), unsure };
}

/**
 * Longest match wins: a requirement taken for its usual import name whose own wheel provides
 * none of the function's import paths (protobuf's bare `google` namespace for `import
 * google.auth`) is left out, when every import provided with it is still provided without it.
 * It still constrains versions, and stays when something the function uses depends on it.
 */
async function withoutBystanders(
  requirements: FileRequirement[],
  resolution: Resolution,
  opts: FunctionRequirementsOptions,
): Promise<{ requirements: FileRequirement[]; resolution: Resolution }> {
  const { closure, ctx, source } = opts;
  const paths = closure.imports.flatMap((i) => importedPaths(i));
  const bystanders: FileRequirement[] = [];
  for (const r of requirements) {
    if (ctx.settings.moduleMapping[r.name]) continue;
    const own = resolution.distributions.find((d) => d.name === normalizeName(r.name));
    if (!own) continue;
    const ownTree = await treeOf({ target: resolution.target, distributions: [own] }, ctx);
    if (!paths.some((p) => providesImport(ownTree, p))) bystanders.push(r);
  }
  const kept = requirements.filter((r) => !bystanders.includes(r));
  if (bystanders.length === 0 || kept.length === 0) return { requirements, resolution };
  const slim = await opts.resolveFor(kept, constraintsBeside(source, kept));
  const before = mergeTrees([await treeOf(resolution, ctx), opts.layerTree]);
  const after = mergeTrees([await treeOf(slim, ctx), opts.layerTree]);
  const same = closure.imports.every((i) => !importProvided(before, i) || importProvided(after, i));
  return same ? { requirements: kept, resolution: slim } : { requirements, resolution };
}

// Resolver errors that mean "this requirement has no install for this target", as opposed to a
// failing index.
const NOT_FOR_THIS_TARGET =
  /^(no (pinned )?wheel of|no version of|conflicting requirements|unknown distribution)/;

/**
 * The build error when imports are left that no resolvable requirement provides, and some
 * requirement did not resolve for this target: that one could be what provides them, so its
 * own error (versions and tags looked at, the fix) is the one to show, naming the imports.
 * A requirement whose name matches an import is preferred.
 */
function onlyProvider(
  left: readonly ClosureImport[],
  unresolvable: ReadonlyArray<{ requirement: FileRequirement; error: TugError }>,
  dir: string,
): TugError {
  const tops = new Set(left.map((i) => i.module.split(".")[0] as string));
  const named =
    unresolvable.find(({ requirement }) =>
      guessTopLevel(requirement.name).some((m) => tops.has(m) || normalizeName(requirement.name).includes(m)),
    ) ??
    unresolvable.find(({ requirement }) =>
      [...tops].some((t) => normalizeName(requirement.name).includes(normalizeName(t))),
    ) ??
    (unresolvable[0] as { requirement: FileRequirement; error: TugError });
  const at = left
    .map((i) => `${relative(dir, i.file).split(sep).join("/")}:${i.line}: import ${i.module}`)
    .join(", ");
  const { error, requirement } = named;
  const more = unresolvable.length - 1;
  const others = more > 0 ? ` (${more} other requirement${more > 1 ? "s have" : " has"} none either)` : "";
  return new TugError({
    what: `${error.what}; nothing else provides ${at}`,
    where: error.where ?? requirement.text,
    hint: `${error.hint ?? ""}; ${requirement.text} has no install for this target${others}, and no other requirement provides that import`,
  });
}

/** The modules a resolution's wheels install (from their cached file tables). */
export async function treeOf(resolution: Resolution, ctx: PythonContext): Promise<ModuleTree> {
  const trees: ModuleTree[] = [];
  for (const d of resolution.distributions) {
    const path = await ctx.index.wheelPath({ filename: d.wheel, url: d.url, sha256: d.sha256 });
    const rows = await cachedWheelTable(ctx.store, d.sha256, path, d.wheel);
    trees.push(treeOfWheel(d.name, rows, ctx.settings.moduleMapping));
  }
  return mergeTrees(trees);
}
