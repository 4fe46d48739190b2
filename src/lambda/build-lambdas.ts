import { join } from "node:path";
import { indexUrls } from "../config/lambda-target.ts";
import type {
  LambdaTarget,
  NodeLambdaTarget,
  Project,
  PythonLambdaTarget,
  PythonLayerTarget,
} from "../config/types.ts";
import { CacheStore, defaultCacheDir } from "../engine/cache-store.ts";
import { allSettledOrThrow } from "../engine/settle.ts";
import { planPythonLayer } from "./build-layer.ts";
import { lambdaOutDir, planPythonLambda } from "./build-python.ts";
import { planNodeLambdas } from "./node/build-node.ts";
import { discardPlanned, type LambdaReport, writePlanned } from "./planned-zip.ts";
import { simpleIndex } from "./python/index-client.ts";
import type { PythonContext } from "./python-context.ts";

export interface BuildLambdasOptions {
  /** `--out DIR`: zips go to DIR/lambdas (default `.tug/out/lambdas`). */
  out?: string | undefined;
  cacheDir?: string | undefined;
}

interface LambdaPlan {
  write(): Promise<LambdaReport[]>;
  discard(): Promise<void>;
}

const NOTHING: LambdaPlan = { write: async () => [], discard: async () => {} };

/**
 * Builds the lambdas in parallel. Every lambda, Python or Node, is checked, resolved or bundled
 * before any zip is written, so a bad handler or requirement in one leaves no outputs updated.
 */
export async function buildLambdas(
  project: Project,
  lambdas: LambdaTarget[],
  opts: BuildLambdasOptions,
  layers: PythonLayerTarget[] = [],
): Promise<LambdaReport[]> {
  const python = lambdas.filter((l): l is PythonLambdaTarget => l.language === "python");
  const node = lambdas.filter((l): l is NodeLambdaTarget => l.language === "node");
  const settled = await Promise.allSettled([
    planPython(project, python, layers, opts),
    node.length ? planNodeLambdas(project, node, opts) : NOTHING,
  ]);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  const plans = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  if (failed) {
    await Promise.all(plans.map((p) => p.discard()));
    throw failed.reason;
  }
  const built = await allSettledOrThrow(plans.map((p) => p.write()));
  const byName = new Map(built.flat().map((r) => [r.target, r]));
  return [...layers, ...lambdas].flatMap((l) => byName.get(l.name) ?? []);
}

async function planPython(
  project: Project,
  lambdas: PythonLambdaTarget[],
  layers: PythonLayerTarget[],
  opts: BuildLambdasOptions,
): Promise<LambdaPlan> {
  if ((lambdas.length === 0 && layers.length === 0) || !project.python) return NOTHING;
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const urls = indexUrls(project.python);
  const ctx: PythonContext = {
    project,
    settings: project.python,
    indexUrls: urls,
    index: simpleIndex({ urls, cacheDir: join(cacheDir, "python") }),
    store: new CacheStore(cacheDir),
    outDir: lambdaOutDir(project, opts.out),
  };
  const settled = await Promise.allSettled([
    ...layers.map((layer) => planPythonLayer(layer, ctx)),
    ...lambdas.map((target) => planPythonLambda(target, ctx)),
  ]);
  const planned = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const discard = () => Promise.all(planned.map((p) => discardPlanned(p))).then(() => {});
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await discard();
    throw failed.reason;
  }
  return { write: () => allSettledOrThrow(planned.map((p) => writePlanned(p, ctx.store))), discard };
}
