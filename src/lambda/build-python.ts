import { readFile } from "node:fs/promises";
import { relative, sep } from "node:path";
import type { PythonLambdaTarget, PythonLayerTarget, PythonSettings } from "../config/types.ts";
import { isTugError, TugError } from "../errors.ts";
import { hexOf, sha256 } from "../oci/digest.ts";
import type { ZipEntry } from "../zip/entry.ts";
import { layerResolution } from "./build-layer.ts";
import { functionRequirements, treeOf } from "./function-requirements.ts";
import { checkLimits } from "./limits.ts";
import type { OutputRecord } from "./output-record.ts";
import { type LambdaDistribution, type PlannedZip, previousOutput } from "./planned-zip.ts";
import { type Closure, firstPartyClosure } from "./python/imports.ts";
import { lockedResolution } from "./python/locked-resolution.ts";
import { importProvided, type ModuleTree, mergeTrees } from "./python/module-providers.ts";
import type { FileRequirement } from "./python/requirements-file.ts";
import { type RequirementsSource, readRequirementsSource } from "./python/requirements-source.ts";
import { closeWheels, resolvedWheels } from "./python/resolved-wheels.ts";
import type { Resolution } from "./python/resolver.ts";
import { firstPartyZipNames } from "./python/source-roots.ts";
import { checkSyntax } from "./python/syntax-check.ts";
import { mergeWheels, type WheelEntries } from "./python/wheel-layout.ts";
import type { WheelFile } from "./python/wheel-table.ts";
import type { PythonContext } from "./python-context.ts";
import { lambdaKey, lambdaZipPath } from "./python-keys.ts";
import { sourceGuard } from "./source-links.ts";
import { reusedThirdParty, thirdPartyKey } from "./third-party-memo.ts";

export type { LambdaDistribution, LambdaReport } from "./planned-zip.ts";
export { lambdaOutDir } from "./python-keys.ts";

/**
 * Checks, resolves and lays out a lambda without writing anything (so several can all fail first).
 * The zip is the handler's first-party import closure plus the wheels of only the requirements
 * that closure imports, resolved for the lambda's own runtime and architecture, less what its
 * layers provide. When a record shows that no input changed and the zip is still the one written
 * then, nothing is done at all.
 */
export async function planPythonLambda(target: PythonLambdaTarget, ctx: PythonContext): Promise<PlannedZip> {
  const started = performance.now();
  const { project, settings } = ctx;
  const zipPath = lambdaZipPath(ctx, target.name);
  const layers = target.layers.map(
    (name) => ctx.project.layers?.find((l) => l.name === name) as PythonLayerTarget,
  );
  const { previous, current, reason, record } = await previousOutput(
    ctx.store,
    lambdaKey(target, ctx),
    zipPath,
    { target: target.name, kind: "lambda" },
    started,
    project.dir,
  );
  if (current) return { kind: "current", report: current };

  const files: Record<string, string> = {};
  // Every first-party file is checked before it is read: no link may lead out of the project.
  const guard = sourceGuard({
    projectDir: project.dir,
    sourceRoots: settings.sourceRoots,
    where: target.where,
  });
  const handler = await readHandler(target, project.dir, guard);
  checkHandlerFunction(target, project.dir, handler.toString("utf8"));
  const sources = new Map<string, Buffer>([[target.handlerFile, handler]]);
  const read = async (f: string) => {
    let data = sources.get(f);
    if (!data) {
      await guard(f);
      data = await readFile(f);
      sources.set(f, data);
    }
    return data;
  };
  const closure = await firstPartyClosure(target.handlerFile, project.dir, {
    minor: target.runtime.python[1],
    sourceRoots: settings.sourceRoots,
    read,
  });
  for (const f of closure.files) files[f] = hexOf(sha256(await read(f)));
  // A syntax error is a build error with file:line, not a zip that fails at import on Lambda.
  const syntax = await checkSyntax(
    closure.files.map((f) => ({
      shown: relative(project.dir, f).split(sep).join("/"),
      data: sources.get(f) as Buffer,
      sha256: files[f] as string,
    })),
    target.runtime.python[1],
    ctx.store,
  );

  let source: RequirementsSource = {
    requirements: [],
    pins: new Map(),
    hashes: new Map(),
    fileHashes: new Map(),
  };
  if (closure.thirdParty.size > 0) {
    source = await readRequirementsSource(settings.requirementsFile, target.where, project.dir);
    // Hashes of the bytes that were parsed: an edit racing the build is a changed input next time.
    for (const [f, sha] of source.fileHashes) files[f] = sha;
  }
  const fromLayers = await layerPins(target, layers, ctx);
  const pins = new Map([...source.pins, ...fromLayers.pins]);
  const memoKey = thirdPartyKey(closure, source.fileHashes, fromLayers.pins);
  const third =
    (await reusedThirdPartyPart(previous, record, memoKey)) ??
    (await resolvedThirdPartyPart(target, ctx, closure, source, pins, fromLayers));
  const { distributions, lists, wheels } = third;
  try {
    const warnings = [
      ...syntax.warnings,
      ...unknownImports(closure, third.provided, settings, target, project.dir),
      ...third.unsure.map((u) => `${target.name}: could not check whether ${u}; building again will retry`),
    ];
    // Under a source root a file is packed relative to it, as its module name says.
    const zipNames = firstPartyZipNames(closure.files, project.dir, settings.sourceRoots, target.where);
    const firstParty: ZipEntry[] = closure.files.map((f) => ({
      name: zipNames.get(f) as string,
      data: sources.get(f) as Buffer,
    }));
    const parts = [...lists, { wheel: "first-party sources", entries: firstParty }];
    const entries = mergeWheels(parts);
    checkLimits(target, parts);
    return {
      kind: "write",
      name: target.name,
      reportKind: "lambda",
      zipPath,
      key: lambdaKey(target, ctx),
      entries,
      distributions,
      meta: {
        runtime: target.runtime.runtime,
        architecture: target.runtime.arch,
        handler: target.awsHandler,
        ...(target.layers.length ? { layers: target.layers } : {}),
      },
      inputs: { files, probes: Object.fromEntries(closure.probes) },
      recordable: third.unsure.length === 0,
      thirdParty: {
        key: memoKey,
        unprovided: [...new Set(closure.imports.filter((i) => !third.provided(i)).map((i) => i.module))],
      },
      ...(reason ? { reason } : {}),
      previous,
      wheels,
      warnings,
      started,
    };
  } catch (e) {
    await closeWheels(wheels);
    throw e;
  }
}

/** A function's third-party part: its distributions, their zip entries, and what they provide. */
interface ThirdPartyPart {
  distributions: LambdaDistribution[];
  lists: WheelEntries[];
  wheels: WheelFile[];
  provided: (i: Closure["imports"][number]) => boolean;
  /** Checks that could not be made (an unreachable index): the zip is then not recorded. */
  unsure: string[];
}

/** The last build's wheel part, when nothing it was made from has changed (third-party-memo.ts). */
async function reusedThirdPartyPart(
  previous: string | undefined,
  record: OutputRecord | undefined,
  key: string,
): Promise<ThirdPartyPart | undefined> {
  const reused = await reusedThirdParty(previous, record, key);
  if (!reused || !record?.thirdParty) return undefined;
  const unprovided = new Set(record.thirdParty.unprovided);
  return {
    distributions: record.distributions,
    lists: [{ wheel: "the wheels of the last build", entries: reused.entries }],
    wheels: [reused.file],
    provided: (i) => !unprovided.has(i.module),
    unsure: [],
  };
}

/** Resolves the requirements the function imports and lays their wheels out. */
async function resolvedThirdPartyPart(
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
    distributions: own.map(({ name, version, wheel }) => ({ name, version, wheel })),
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
async function layerPins(
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

async function readHandler(
  target: PythonLambdaTarget,
  dir: string,
  guard: (file: string) => Promise<void>,
): Promise<Buffer> {
  const file = target.handlerFile;
  await guard(file);
  try {
    return await readFile(file);
  } catch {
    throw new TugError({
      what: `handler file ${relative(dir, file).split(sep).join("/")} does not exist`,
      where: target.where,
      hint: "handler is FILE:FUNCTION with FILE relative to the directory that holds tug.yaml",
    });
  }
}

function checkHandlerFunction(target: PythonLambdaTarget, dir: string, source: string): void {
  const shown = relative(dir, target.handlerFile).split(sep).join("/");
  const fn = target.handlerFunction;
  const defined = new RegExp(`^(?:async\\s+)?def\\s+${fn}\\s*\\(|^${fn}\\s*(?::[^=]*)?=[^=]`, "m");
  if (defined.test(source)) return;
  const defs = [...source.matchAll(/^(?:async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)/gm)].map((m) => m[1]);
  throw new TugError({
    what: `handler function ${fn} is not defined in ${shown}`,
    where: target.where,
    hint: defs.length
      ? `top-level functions there: ${defs.join(", ")}`
      : `define def ${fn}(event, context): at the top level of ${shown}`,
  });
}

/**
 * Third-party imports that no resolved wheel provides: a warning with file:line, or an error when
 * `unknown_imports: error`. Imports inside `try/except ImportError` are optional and never count.
 */
function unknownImports(
  closure: Awaited<ReturnType<typeof firstPartyClosure>>,
  provided: (i: Closure["imports"][number]) => boolean,
  settings: PythonSettings,
  target: PythonLambdaTarget,
  dir: string,
): string[] {
  const missing = closure.imports.filter((i) => !i.weak && !provided(i));
  if (missing.length === 0) return [];
  const lines = missing.map(
    (i) => `${relative(dir, i.file).split(sep).join("/")}:${i.line}: import ${i.module}`,
  );
  const hint =
    "add the distribution to the requirements, or map it in tug.yaml: python.module_mapping: {DIST: [MODULE]}";
  if (settings.unknownImports === "error") {
    throw new TugError({
      what: `${target.name}: no requirement provides ${[...new Set(missing.map((m) => m.module))].join(", ")}`,
      where: lines.join("\n"),
      hint,
    });
  }
  return lines.map((l) => `${target.name}: ${l} is not provided by any requirement (${hint})`);
}
