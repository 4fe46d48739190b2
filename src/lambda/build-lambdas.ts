import { indexUrls } from "../config/lambda-target.ts";
import type {
  LambdaTarget,
  NodeLambdaTarget,
  Project,
  PythonLambdaTarget,
  PythonLayerTarget,
} from "../config/types.ts";
import { CacheStore, defaultCacheDir } from "../engine/cache-store.ts";
import type { RemoteMode } from "../engine/remote-sync.ts";
import { allSettledOrThrow } from "../engine/settle.ts";
import type { SbomFormat } from "../sbom/sbom-model.ts";
import { previousOutput } from "./output-record.ts";
import type { LambdaReport, ZipMemo } from "./planned-zip.ts";
import { lambdaKey, lambdaOutDir, lambdaZipPath, layerKey, layerZipPath } from "./python-keys.ts";

export interface BuildLambdasOptions {
  /** `--out DIR`: zips go to DIR/lambdas (default `.tug/out/lambdas`). */
  out?: string | undefined;
  cacheDir?: string | undefined;
  /** State a resident process keeps between builds (tug dev): zips' head hashes. */
  memo?: ZipMemo | undefined;
  /** The shared cache: resolution locks, wheel tables and wheels travel through it. */
  remote?: { url: string; mode: RemoteMode } | undefined;
  /** Where remote-cache trouble is reported (default: stderr). */
  warn?: (message: string) => void;
  /** `--sbom`: the document written beside each zip (default SPDX). */
  sbom?: SbomFormat | undefined;
}

export interface LambdaPlan {
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
    node.length
      ? import("./node/build-node.ts").then((m) => m.planNodeLambdas(project, node, opts))
      : NOTHING,
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
  const started = performance.now();
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const store = new CacheStore(cacheDir);
  const keys = {
    project,
    settings: project.python,
    indexUrls: indexUrls(project.python),
    outDir: lambdaOutDir(project, opts.out),
    sbom: opts.sbom ?? "spdx",
  };
  // The no-op fast path: when every zip is current, neither the parser, the resolver nor the
  // zip writer is even loaded.
  const zips = [
    ...layers.map((l) => ({
      name: l.name,
      kind: "layer" as const,
      key: layerKey(l, keys),
      path: layerZipPath(keys, l.name),
    })),
    ...lambdas.map((l) => ({
      name: l.name,
      kind: "lambda" as const,
      key: lambdaKey(l, keys),
      path: lambdaZipPath(keys, l.name),
    })),
  ];
  const current = await Promise.all(
    zips.map((z) =>
      previousOutput(store, z.key, z.path, { target: z.name, kind: z.kind }, started, project.dir),
    ),
  );
  const reports = current.flatMap((c) => (c.current ? [c.current] : []));
  if (reports.length === current.length) return { write: async () => reports, discard: async () => {} };
  const [{ planPythonZips }, { attachRemote }] = await Promise.all([
    import("./python-plans.ts"),
    import("../engine/engine.ts"),
  ]);
  // Only now, on a miss: a no-op build never talks to the shared cache.
  if (opts.remote) {
    const warn = opts.warn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
    await attachRemote(store, opts.remote, warn);
  }
  const flush = async () => {
    await store.remote?.flush();
  };
  try {
    const plan = await planPythonZips({ ...keys, store, cacheDir }, lambdas, layers, opts.memo);
    return {
      write: () => plan.write().finally(flush),
      discard: () => plan.discard().finally(flush),
    };
  } catch (e) {
    await flush();
    throw e;
  }
}
