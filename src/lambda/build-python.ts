import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { Project, PythonLambdaTarget } from "../config/types.ts";
import { TugError } from "../errors.ts";
import type { ZipEntry } from "../zip/entry.ts";
import { createZip } from "../zip/zip-writer.ts";
import { firstPartyClosure } from "./python/imports.ts";
import type { SimpleIndex } from "./python/index-client.ts";
import { type RequirementsSource, readRequirementsSource } from "./python/requirements-source.ts";
import { requirementsFor, resolve } from "./python/resolver.ts";
import { guessTopLevel } from "./python/top-level.ts";
import { mergeWheels, wheelEntries } from "./python/wheel-layout.ts";

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
}

export interface BuildPythonLambdaOptions {
  target: PythonLambdaTarget;
  project: Project;
  /** Directory that receives `NAME.zip` and `NAME.zip.json` (…/lambdas). */
  outDir: string;
  index: Pick<SimpleIndex, "projectFiles" | "metadata" | "wheelPath">;
}

/** Where `tug build` writes lambda zips: `--out DIR` → DIR/lambdas, else `.tug/out/lambdas`. */
export function lambdaOutDir(project: Project, out: string | undefined): string {
  return join(out ?? join(project.dir, ".tug", "out"), "lambdas");
}

/** A lambda whose inputs are all checked and resolved: writing it can no longer fail on the user's input. */
export interface PlannedLambda {
  target: PythonLambdaTarget;
  entries: ZipEntry[];
  distributions: LambdaDistribution[];
  started: number;
}

/**
 * Packages one Python lambda: the handler's first-party import closure plus the wheels of only
 * the requirements that closure imports, resolved for the lambda's own runtime and architecture.
 * Every check runs before anything is written; the zip lands by rename.
 */
export async function buildPythonLambda(opts: BuildPythonLambdaOptions): Promise<LambdaReport> {
  return writePythonLambda(await planPythonLambda(opts), opts.outDir);
}

/** Checks, resolves and lays out a lambda without writing anything (so several can all fail first). */
export async function planPythonLambda(
  opts: Omit<BuildPythonLambdaOptions, "outDir">,
): Promise<PlannedLambda> {
  const started = performance.now();
  const { target, project, index } = opts;
  await checkHandler(target, project.dir);
  const closure = await firstPartyClosure(target.handlerFile, project.dir, {
    minor: target.runtime.python[1],
  });
  const requirementsFile = project.python?.requirementsFile ?? join(project.dir, "requirements.txt");
  const source: RequirementsSource =
    closure.thirdParty.size === 0
      ? { requirements: [], pins: new Map(), hashes: new Map(), files: [] }
      : await readRequirementsSource(requirementsFile, target.where);
  const requirements = requirementsFor(source.requirements, closure.thirdParty, guessTopLevel);
  const resolution = await resolve({
    requirements,
    target: target.runtime,
    index,
    pins: source.pins,
    hashes: source.hashes,
  });

  const wheels = await Promise.all(
    resolution.distributions.map(async (d) => {
      const files = await index.projectFiles(d.name);
      const file = files.find((f) => f.filename === d.wheel);
      if (!file) throw new Error(`resolved wheel ${d.wheel} is not listed for ${d.name}`);
      const path = await index.wheelPath(file);
      return { wheel: d.wheel, entries: await wheelEntries(path) };
    }),
  );
  const firstParty: ZipEntry[] = await Promise.all(
    closure.files.map(async (f) => ({
      name: relative(project.dir, f).split(sep).join("/"),
      data: await readFile(f),
    })),
  );
  const entries = mergeWheels([...wheels, { wheel: "first-party sources", entries: firstParty }]);
  const distributions = resolution.distributions.map((d) => ({
    name: d.name,
    version: d.version,
    wheel: d.wheel,
  }));
  return { target, entries, distributions, started };
}

/** Writes `NAME.zip` (deterministic bytes, by rename) and `NAME.zip.json` into `outDir`. */
export async function writePythonLambda(planned: PlannedLambda, outDir: string): Promise<LambdaReport> {
  const { target, entries, distributions, started } = planned;
  await mkdir(outDir, { recursive: true });
  const zipPath = join(outDir, `${target.name}.zip`);
  const tmp = `${zipPath}.${process.pid}.tmp`;
  let result: Awaited<ReturnType<typeof createZip>>;
  try {
    result = await createZip(entries, tmp);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  const digest = `sha256:${result.sha256}`;
  const meta = {
    runtime: target.runtime.runtime,
    architecture: target.runtime.arch,
    handler: target.awsHandler,
    digest,
    distributions,
  };
  await writeFile(`${zipPath}.json.tmp`, `${JSON.stringify(meta, null, 2)}\n`);
  await rename(tmp, zipPath);
  await rename(`${zipPath}.json.tmp`, `${zipPath}.json`);
  return {
    target: target.name,
    kind: "lambda",
    path: zipPath,
    digest,
    bytes: result.bytes,
    unpackedBytes: result.unpackedBytes,
    distributions,
    cached: false,
    ms: Math.round(performance.now() - started),
  };
}

async function checkHandler(target: PythonLambdaTarget, dir: string): Promise<void> {
  const shown = relative(dir, target.handlerFile).split(sep).join("/");
  let source: string;
  try {
    source = await readFile(target.handlerFile, "utf8");
  } catch {
    throw new TugError({
      what: `handler file ${shown} does not exist`,
      where: target.where,
      hint: "handler is FILE:FUNCTION with FILE relative to the directory that holds tug.yaml",
    });
  }
  const fn = target.handlerFunction;
  const defined = new RegExp(`^(?:async\\s+)?def\\s+${fn}\\s*\\(|^${fn}\\s*(?::[^=]*)?=[^=]`, "m");
  if (!defined.test(source)) {
    const defs = [...source.matchAll(/^(?:async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)/gm)].map((m) => m[1]);
    throw new TugError({
      what: `handler function ${fn} is not defined in ${shown}`,
      where: target.where,
      hint: defs.length
        ? `top-level functions there: ${defs.join(", ")}`
        : `define def ${fn}(event, context): at the top level of ${shown}`,
    });
  }
}
