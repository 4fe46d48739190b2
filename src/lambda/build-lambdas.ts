import { join } from "node:path";
import { indexUrls } from "../config/lambda-target.ts";
import type { LambdaTarget, NodeLambdaTarget, Project, PythonLambdaTarget } from "../config/types.ts";
import { CacheStore, defaultCacheDir } from "../engine/cache-store.ts";
import { allSettledOrThrow } from "../engine/settle.ts";
import {
  type LambdaReport,
  lambdaOutDir,
  type PythonLambdaContext,
  planPythonLambda,
  writePythonLambda,
} from "./build-python.ts";
import { buildNodeLambdas } from "./node/build-node.ts";
import { simpleIndex } from "./python/index-client.ts";

export interface BuildLambdasOptions {
  /** `--out DIR`: zips go to DIR/lambdas (default `.tug/out/lambdas`). */
  out?: string | undefined;
  cacheDir?: string | undefined;
}

/**
 * Builds the lambdas in parallel. Every lambda is checked and resolved before any zip is
 * written, so a bad handler or requirement in one leaves no half-updated outputs.
 */
export async function buildLambdas(
  project: Project,
  lambdas: LambdaTarget[],
  opts: BuildLambdasOptions,
): Promise<LambdaReport[]> {
  const python = lambdas.filter((l): l is PythonLambdaTarget => l.language === "python");
  const node = lambdas.filter((l): l is NodeLambdaTarget => l.language === "node");
  const built = await allSettledOrThrow([
    buildPythonLambdas(project, python, opts),
    node.length ? buildNodeLambdas(project, node, opts) : Promise.resolve([]),
  ]);
  const byName = new Map(built.flat().map((r) => [r.target, r]));
  return lambdas.flatMap((l) => byName.get(l.name) ?? []);
}

async function buildPythonLambdas(
  project: Project,
  lambdas: PythonLambdaTarget[],
  opts: BuildLambdasOptions,
): Promise<LambdaReport[]> {
  if (lambdas.length === 0 || !project.python) return [];
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const urls = indexUrls(project.python);
  const ctx: PythonLambdaContext = {
    project,
    settings: project.python,
    indexUrls: urls,
    index: simpleIndex({ urls, cacheDir: join(cacheDir, "python") }),
    store: new CacheStore(cacheDir),
    outDir: lambdaOutDir(project, opts.out),
  };
  const planned = await allSettledOrThrow(lambdas.map((target) => planPythonLambda(target, ctx)));
  return allSettledOrThrow(planned.map((p) => writePythonLambda(p, ctx)));
}
