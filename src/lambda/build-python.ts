import { readFile } from "node:fs/promises";
import { dirname, relative, sep } from "node:path";
import type { PythonLambdaTarget, PythonLayerTarget, PythonSettings } from "../config/types.ts";
import { TugError } from "../errors.ts";
import { hexOf, sha256 } from "../oci/digest.ts";
import type { Closure, firstPartyClosure } from "../python/imports.ts";
import { mergeTrees } from "../python/module-providers.ts";
import { type RequirementsSource, readRequirementsSource } from "../python/requirements-source.ts";
import { firstPartyZipNames } from "../python/source-roots.ts";
import { checkSyntax, warmSyntaxCheck } from "../python/syntax-check.ts";
import { mergeWheels } from "../python/wheel-layout.ts";
import type { ZipEntry } from "../zip/entry.ts";
import type { KeptHead } from "../zip/zip-head.ts";
import { checkLimits } from "./limits.ts";
import { type OutputRecord, sameStamp } from "./output-record.ts";
import { type PlannedZip, PYTHON_ZIP_GROUP, previousOutput, type WheelDistribution } from "./planned-zip.ts";
import type { PythonContext } from "./python-context.ts";
import { firstPartyFiles, walkedProbes } from "./python-first-party.ts";
import { lambdaKey, lambdaZipPath } from "./python-keys.ts";
import type { ThirdPartyPart } from "./python-third-party.ts";
import { sourceGuard } from "./source-links.ts";
import { lastWheelPart, thirdPartyKey } from "./third-party-memo.ts";

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
  const { previous, current, reason, record } =
    ctx.checked?.get(zipPath) ??
    (await previousOutput(
      ctx.store,
      lambdaKey(target, ctx),
      zipPath,
      { target: target.name, kind: "lambda" },
      started,
      project.dir,
    ));
  if (current) return { kind: "current", report: current };
  // Something changed: the syntax check's Python starts now, while the sources are read and parsed,
  // and so does the copy of the last zip's wheel part, which an edit usually keeps.
  warmSyntaxCheck(target.runtime.python[1], ctx.store).catch(() => undefined);
  const lastPart = earlyWheelPart(previous, record, zipPath, ctx);
  try {
    return await planWithLastPart();
  } catch (e) {
    await (await lastPart)?.close();
    throw e;
  }

  async function planWithLastPart(): Promise<PlannedZip> {
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
    const { closure, data, walked } = await firstPartyFiles(target, ctx, read);
    for (const f of [...closure.files, ...data]) files[f] = hexOf(sha256(await read(f)));
    for (const [f, sha] of Object.entries(walked.ignoreFiles)) if (sha !== undefined) files[f] = sha;
    // A syntax error is a build error with file:line, not a zip that fails at import on Lambda.
    // The interpreter runs while the rest is planned; its verdict comes first all the same.
    const syntaxChecked = checkSyntax(
      closure.files.map((f) => ({
        shown: relative(project.dir, f).split(sep).join("/"),
        data: sources.get(f) as Buffer,
        sha256: files[f] as string,
      })),
      target.runtime.python[1],
      ctx.store,
      // tug dev and tug server (they keep zip heads) keep the interpreter too.
      { resident: ctx.zipMemo !== undefined },
    );
    syntaxChecked.catch(() => undefined); // awaited below, on every path

    let third: ThirdPartyPart;
    let memoKey: string;
    try {
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
      // The resolver, lock and wheel code loads only when the wheel part is built again.
      const resolving = () => import("./python-third-party.ts");
      const fromLayers = layers.length
        ? await (await resolving()).layerPins(target, layers, ctx)
        : { pins: new Map<string, string>(), tree: mergeTrees([]) };
      const pins = new Map([...source.pins, ...fromLayers.pins]);
      memoKey = thirdPartyKey(closure, source.fileHashes, fromLayers.pins);
      third =
        (await reusedThirdPartyPart(lastPart, record, memoKey, (h, r) => beginCopy(h, zipPath, r, ctx))) ??
        (await (await resolving()).resolvedThirdPartyPart(target, ctx, closure, source, pins, fromLayers));
    } catch (e) {
      await syntaxChecked; // a syntax error is the one to report
      throw e;
    }
    const release = () => Promise.all([...third.wheels.map((w) => w.close()), third.head?.close()]);
    const syntax = await syntaxChecked.catch(async (e) => {
      await release();
      throw e;
    });
    const { distributions, lists, wheels, head } = third;
    try {
      const warnings = [
        ...syntax.warnings,
        ...unknownImports(closure, third.provided, settings, target, project.dir),
        ...third.unsure.map((u) => `${target.name}: could not check whether ${u}; building again will retry`),
      ];
      // Under a source root a file is packed relative to it, as its module name says.
      const packed = [...closure.files, ...data];
      const zipNames = firstPartyZipNames(packed, project.dir, settings.sourceRoots, target.where);
      const firstParty: ZipEntry[] = packed.map((f) => ({
        name: zipNames.get(f) as string,
        data: sources.get(f) as Buffer,
      }));
      const parts = [...lists, { wheel: "first-party sources", entries: firstParty }];
      const entries = mergeWheels(parts);
      if (head) checkHeadClashes(head, firstParty);
      checkLimits(target, head ? [...parts, headSizes(head)] : parts);
      return {
        kind: "write",
        name: target.name,
        reportKind: "lambda",
        zipPath,
        group: PYTHON_ZIP_GROUP,
        key: lambdaKey(target, ctx),
        entries,
        distributions,
        sbom: ctx.sbom,
        ...(ctx.provenance
          ? {
              provenance: {
                ctx: ctx.provenance,
                target,
                lockDirs: [project.dir, dirname(settings.requirementsFile)],
              },
            }
          : {}),
        meta: {
          runtime: target.runtime.runtime,
          architecture: target.runtime.arch,
          handler: target.awsHandler,
          ...(target.layers.length ? { layers: target.layers } : {}),
        },
        inputs: { files, probes: walkedProbes(closure, walked), dirs: walked.dirs },
        recordable: third.unsure.length === 0,
        thirdParty: {
          key: memoKey,
          unprovided: [...new Set(closure.imports.filter((i) => !third.provided(i)).map((i) => i.module))],
        },
        ...(reason ? { reason } : {}),
        previous,
        wheels,
        ...(head ? { head, cleanup: () => head.close() } : {}),
        warnings,
        started,
      };
    } catch (e) {
      await release();
      throw e;
    }
  }
}

/**
 * The last zip's wheel part, opened as soon as the record says there is one: whether this build
 * may keep it is known only once the sources are parsed. A resident process (its memo keeps the
 * part's hash) starts copying it right away too; a one-shot build starts copying and hashing it
 * once it is known to be kept (reusedThirdPartyPart), so an edit that changes the third-party
 * inputs never hashes 41 MB for nothing.
 */
function earlyWheelPart(
  previous: string | undefined,
  record: OutputRecord | undefined,
  zipPath: string,
  ctx: PythonContext,
): Promise<KeptHead | undefined> {
  if (!previous || !record?.thirdParty) return Promise.resolve(undefined);
  const part = lastWheelPart(previous, record).then((head) => {
    if (head && ctx.zipMemo) beginCopy(head, zipPath, record, ctx);
    return head;
  });
  part.catch(() => undefined);
  return part;
}

/** Starts copying and hashing the kept part (once), with a resident process's hash when it is of this file. */
function beginCopy(head: KeptHead, zipPath: string, record: OutputRecord, ctx: PythonContext): void {
  const kept = ctx.zipMemo?.heads.get(zipPath);
  const same = kept?.bytes === head.bytes && sameStamp(kept.stamp, record.outputs[zipPath]);
  head.begin(zipPath, same ? kept?.hash.copy() : undefined);
}

/** The last build's wheel part, when nothing it was made from has changed (third-party-memo.ts). */
async function reusedThirdPartyPart(
  lastPart: Promise<KeptHead | undefined>,
  record: OutputRecord | undefined,
  key: string,
  start: (head: KeptHead, record: OutputRecord) => void,
): Promise<ThirdPartyPart | undefined> {
  const head = await lastPart;
  if (!head || !record?.thirdParty || record.thirdParty.key !== key) {
    await head?.close();
    return undefined;
  }
  // Copied and hashed while the syntax check runs, not after it.
  start(head, record);
  const unprovided = new Set(record.thirdParty.unprovided);
  return {
    // A Python record (no `ecosystem`) holds every wheel's sha256: isOutputRecord checked it.
    distributions: record.distributions as WheelDistribution[],
    lists: [],
    wheels: [],
    provided: (i) => !unprovided.has(i.module),
    unsure: [],
    head,
  };
}

/** The kept wheel part as checkLimits counts it: its exact zipped size and its unpacked size. */
function headSizes(head: KeptHead): {
  wheel: string;
  entries: [];
  sizes: { zipped: number; unzipped: number };
} {
  return {
    wheel: "the wheels of the last build",
    entries: [],
    sizes: { zipped: head.bytes + head.directory.length, unzipped: head.unpackedBytes },
  };
}

/**
 * What mergeWheels refuses between wheels and first-party sources, against a kept wheel part:
 * a source at a path a wheel installs, or where a wheel has a directory or a file on its way.
 */
function checkHeadClashes(head: KeptHead, firstParty: readonly ZipEntry[]): void {
  const { files, dirs } = head.nameSets();
  const clash = (path: string, what: string) =>
    new TugError({
      what: `the wheels of the last build and first-party sources both install ${path}${what}`,
      hint: "two distributions provide the same module; drop or pin one of them",
    });
  for (const { name } of firstParty) {
    if (files.has(name)) throw clash(name, " with different content");
    if (dirs.has(name)) throw clash(name, " as both a directory and a file");
    for (let i = name.indexOf("/"); i > 0; i = name.indexOf("/", i + 1))
      if (files.has(name.slice(0, i))) throw clash(name.slice(0, i), " as both a file and a directory");
  }
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
