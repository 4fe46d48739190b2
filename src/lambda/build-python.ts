import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, join, relative, sep } from "node:path";
import type { Project, PythonLambdaTarget, PythonSettings } from "../config/types.ts";
import type { CacheStore } from "../engine/cache-store.ts";
import { TugError } from "../errors.ts";
import type { ZipEntry } from "../zip/entry.ts";
import { createZip } from "../zip/zip-writer.ts";
import { checkLimits } from "./limits.ts";
import { type OutputRecord, outputKey, sameStamp, sha256Hex, stampOf, upToDate } from "./output-record.ts";
import { firstPartyClosure } from "./python/imports.ts";
import type { SimpleIndex } from "./python/index-client.ts";
import { lockedResolution } from "./python/locked-resolution.ts";
import { type RequirementsSource, readRequirementsSource } from "./python/requirements-source.ts";
import { requirementsFor } from "./python/resolver.ts";
import { formatGlibc } from "./python/runtime.ts";
import { guessTopLevel, topLevelFromPaths } from "./python/top-level.ts";
import { layoutWheel, mergeWheels } from "./python/wheel-layout.ts";
import { cachedWheelTable, WheelFile } from "./python/wheel-table.ts";

export interface LambdaDistribution {
  name: string;
  version: string;
  wheel: string;
}

export interface LambdaReport {
  target: string;
  kind: "lambda";
  path: string;
  digest: string;
  bytes: number;
  unpackedBytes: number;
  distributions: LambdaDistribution[];
  cached: boolean;
  ms: number;
  /** Things worth a look that did not stop the build (e.g. an import nothing provides). */
  warnings?: string[];
}

export interface PythonLambdaContext {
  project: Project;
  settings: PythonSettings;
  /** index_url then extra_index_urls, as used (they are part of the cache key). */
  indexUrls: readonly string[];
  index: Pick<SimpleIndex, "projectFiles" | "metadata" | "wheelPath">;
  /** Records (locks, wheel tables, outputs); without one nothing is cached. */
  store?: CacheStore;
  /** Directory that receives `NAME.zip` and `NAME.zip.json` (…/lambdas). */
  outDir: string;
}

/** Where `tug build` writes lambda zips: `--out DIR` → DIR/lambdas, else `.tug/out/lambdas`. */
export function lambdaOutDir(project: Project, out: string | undefined): string {
  return join(out ?? join(project.dir, ".tug", "out"), "lambdas");
}

/** A lambda ready to write (every input checked and resolved), or one whose zip is already current. */
export type PlannedLambda =
  | { kind: "current"; report: LambdaReport }
  | {
      kind: "write";
      target: PythonLambdaTarget;
      key: string;
      entries: ZipEntry[];
      distributions: LambdaDistribution[];
      inputs: Pick<OutputRecord, "files" | "probes">;
      /** The zip this build replaces, when it is still the one the last build wrote. */
      previous: string | undefined;
      wheels: WheelFile[];
      warnings: string[];
      started: number;
    };

// Bump when what a lambda zip holds or how it is laid out changes: old records then miss.
const OUTPUT_FORMAT = 1;

/**
 * Checks, resolves and lays out a lambda without writing anything (so several can all fail first).
 * The zip is the handler's first-party import closure plus the wheels of only the requirements
 * that closure imports, resolved for the lambda's own runtime and architecture. When a record
 * shows that no input changed and the zip is still the one written then, nothing is done at all.
 */
export async function planPythonLambda(
  target: PythonLambdaTarget,
  ctx: PythonLambdaContext,
): Promise<PlannedLambda> {
  const started = performance.now();
  const { project, settings, store } = ctx;
  const zipPath = join(ctx.outDir, `${target.name}.zip`);
  const key = outputKey({
    v: OUTPUT_FORMAT,
    zipPath,
    runtime: target.runtime.runtime,
    arch: target.runtime.arch,
    glibc: formatGlibc(target.runtime.glibc),
    handler: [target.handlerFile, target.handlerFunction],
    indexUrls: ctx.indexUrls,
    settings,
  });
  const record = await store?.getRecord<OutputRecord>("lambda-out", key);
  const previousStamp = record?.outputs[zipPath] ? await stampOf(zipPath) : undefined;
  const previous = previousStamp && sameStamp(previousStamp, record?.outputs[zipPath]) ? zipPath : undefined;
  if (record && previous && (await upToDate(record))) {
    const { digest, bytes, unpackedBytes, distributions } = record;
    const ms = Math.round(performance.now() - started);
    return {
      kind: "current",
      report: {
        target: target.name,
        kind: "lambda",
        path: zipPath,
        digest,
        bytes,
        unpackedBytes,
        distributions,
        cached: true,
        ms,
      },
    };
  }

  const files: Record<string, string> = {};
  const handler = await readHandler(target, project.dir);
  checkHandlerFunction(target, project.dir, handler.toString("utf8"));
  const sources = new Map<string, Buffer>([[target.handlerFile, handler]]);
  const closure = await firstPartyClosure(target.handlerFile, project.dir, {
    minor: target.runtime.python[1],
    sourceRoots: settings.sourceRoots,
  });
  for (const f of closure.files) {
    const data = sources.get(f) ?? (await readFile(f));
    sources.set(f, data);
    files[f] = sha256Hex(data);
  }

  const topLevelOf = (dist: string) => settings.moduleMapping[dist] ?? guessTopLevel(dist);
  let source: RequirementsSource = { requirements: [], pins: new Map(), hashes: new Map(), files: [] };
  if (closure.thirdParty.size > 0) {
    // Hashed before parsing: an edit racing the build then shows up as a changed input next time.
    const reqFiles = await hashRequirementFiles(settings.requirementsFile);
    source = await readRequirementsSource(settings.requirementsFile, target.where);
    for (const f of source.files) files[f] = reqFiles.get(f) ?? sha256Hex(await readFile(f));
  }
  const requirements = requirementsFor(source.requirements, closure.thirdParty, (d) => topLevelOf(d));
  const resolution = await lockedResolution({ requirements, source, target: target.runtime, ctx });

  const wheels: WheelFile[] = [];
  const provided = new Set<string>();
  const lists = await Promise.all(
    resolution.distributions.map(async (d) => {
      const path = await ctx.index.wheelPath({ filename: d.wheel, url: d.url, sha256: d.sha256 });
      const rows = await cachedWheelTable(store, d.sha256, path);
      for (const m of topLevelFromPaths(rows.map((r) => r.name))) provided.add(m);
      for (const m of settings.moduleMapping[d.name] ?? []) provided.add(m.split(".")[0] as string);
      const file = new WheelFile(path);
      wheels.push(file);
      return {
        wheel: d.wheel,
        entries: layoutWheel(d.wheel, rows, (r) => file.raw(r), { strip: settings.strip }),
      };
    }),
  );
  const warnings = unknownImports(closure, provided, settings, target);
  const firstParty: ZipEntry[] = closure.files.map((f) => ({
    name: relative(project.dir, f).split(sep).join("/"),
    data: sources.get(f) as Buffer,
  }));
  const entries = mergeWheels([...lists, { wheel: "first-party sources", entries: firstParty }]);
  checkLimits(target, [...lists, { wheel: "first-party sources", entries: firstParty }]);
  const probes = Object.fromEntries(closure.probes);
  const distributions = resolution.distributions.map(({ name, version, wheel }) => ({
    name,
    version,
    wheel,
  }));
  return {
    kind: "write",
    target,
    key,
    entries,
    distributions,
    inputs: { files, probes },
    previous,
    wheels,
    warnings,
    started,
  };
}

/** Releases what a plan holds open (the wheels' descriptors) when it will not be written. */
export async function discardPythonLambda(planned: PlannedLambda): Promise<void> {
  if (planned.kind === "write") await Promise.all(planned.wheels.map((w) => w.close()));
}

/** Writes `NAME.zip` (deterministic bytes, by rename) and `NAME.zip.json` into `outDir`. */
export async function writePythonLambda(
  planned: PlannedLambda,
  ctx: Pick<PythonLambdaContext, "outDir" | "store">,
): Promise<LambdaReport> {
  if (planned.kind === "current") return planned.report;
  const { target, entries, distributions, started } = planned;
  const zipPath = join(ctx.outDir, `${target.name}.zip`);
  const metaPath = `${zipPath}.json`;
  await mkdir(ctx.outDir, { recursive: true });
  const tmp = `${zipPath}.${process.pid}.tmp`;
  let result: Awaited<ReturnType<typeof createZip>>;
  try {
    // First-party sources go last: after an edit to them, the wheels' part of the previous zip
    // is copied as one block and only the tail is written.
    result = await createZip(entries, tmp, {
      lookahead: 32,
      group: (e) => ("data" in e ? 1 : 0),
      ...(planned.previous ? { reuse: planned.previous } : {}),
    });
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    await Promise.all(planned.wheels.map((w) => w.close()));
  }
  const digest = `sha256:${result.sha256}`;
  const meta = {
    runtime: target.runtime.runtime,
    architecture: target.runtime.arch,
    handler: target.awsHandler,
    digest,
    distributions,
  };
  await writeFile(`${metaPath}.tmp`, `${JSON.stringify(meta, null, 2)}\n`);
  await rename(tmp, zipPath);
  await rename(`${metaPath}.tmp`, metaPath);
  const report: LambdaReport = {
    target: target.name,
    kind: "lambda",
    path: zipPath,
    digest,
    bytes: result.bytes,
    unpackedBytes: result.unpackedBytes,
    distributions,
    cached: false,
    ms: Math.round(performance.now() - started),
    ...(planned.warnings.length ? { warnings: planned.warnings } : {}),
  };
  const [zipStamp, metaStamp] = await Promise.all([stampOf(zipPath), stampOf(metaPath)]);
  if (ctx.store && zipStamp && metaStamp) {
    const record: OutputRecord = {
      ...planned.inputs,
      outputs: { [zipPath]: zipStamp, [metaPath]: metaStamp },
      digest,
      bytes: report.bytes,
      unpackedBytes: report.unpackedBytes,
      distributions,
    };
    await ctx.store.putRecord("lambda-out", planned.key, record);
  }
  return report;
}

async function readHandler(target: PythonLambdaTarget, dir: string): Promise<Buffer> {
  const file = target.handlerFile;
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

/** sha256 of the requirements file and what it includes, read before they are parsed. */
async function hashRequirementFiles(file: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const data = await readFile(file).catch(() => undefined);
  if (data) out.set(file, sha256Hex(data));
  return out;
}

/**
 * Third-party imports that no resolved wheel provides: a warning with file:line, or an error when
 * `unknown_imports: error`. Imports inside `try/except ImportError` are optional and never count.
 */
function unknownImports(
  closure: Awaited<ReturnType<typeof firstPartyClosure>>,
  provided: ReadonlySet<string>,
  settings: PythonSettings,
  target: PythonLambdaTarget,
): string[] {
  const missing = closure.imports.filter((i) => !i.weak && !provided.has(i.module.split(".")[0] as string));
  if (missing.length === 0) return [];
  const lines = missing.map(
    (i) => `${relative(process.cwd(), i.file) || basename(i.file)}:${i.line}: import ${i.module}`,
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
