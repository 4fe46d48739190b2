import { indexUrls } from "../config/lambda-target.ts";
import type {
  LambdaTarget,
  NodeLambdaTarget,
  Project,
  PythonLambdaTarget,
  PythonLayerTarget,
} from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import type { RemoteMode } from "../engine/remote-sync.ts";
import type { ProvenanceContext } from "../sbom/image-provenance.ts";
import type { SbomFormat } from "../sbom/sbom-model.ts";
import { allSettledOrThrow } from "../util/settle.ts";
import { previousOutput } from "./output-record.ts";
import type { LambdaReport, ZipMemo } from "./planned-zip.ts";
import { lambdaKey, lambdaOutDir, lambdaZipPath, layerKey, layerZipPath } from "./python-keys.ts";
import { residentZipMemo } from "./resident-memo.ts";

export interface BuildLambdasOptions {
  /** `--out DIR`: zips go to DIR/lambdas (default `.tug/out/lambdas`). */
  out?: string | undefined;
  cacheDir?: string | undefined;
  /** State a resident process keeps between builds (tug dev): zips' head hashes. */
  memo?: ZipMemo | undefined;
  /**
   * The build's engine (`build()` passes the one its images use): its store, shared-cache
   * session, limits and timings. Without one, an engine is opened for this call and closed after.
   */
  engine?: Engine | undefined;
  /** Without `engine`: the shared cache (resolution locks and wheels travel through it). */
  remote?: { url: string; mode: RemoteMode } | undefined;
  /** `--sbom`: the document written beside each zip (default SPDX). */
  sbom?: SbomFormat | undefined;
  /** `--provenance`: an SLSA v1 statement beside each zip, `NAME.zip.intoto.json` (default off). */
  provenance?: boolean | ProvenanceContext | undefined;
}

/** The provenance context of this build, when `--provenance` asks for statements. */
async function provenanceOf(project: Project, p: BuildLambdasOptions["provenance"]) {
  if (!p) return undefined;
  if (p !== true) return p;
  const { gitInfo } = await import("../image/git-info.ts");
  let git: ReturnType<typeof gitInfo> | undefined;
  const ctx: ProvenanceContext = { project, started: new Date(), git: () => (git ??= gitInfo(project.dir)) };
  return ctx;
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
  if (opts.engine) return buildLambdasOn(opts.engine, project, lambdas, opts, layers);
  const { Engine } = await import("../engine/engine.ts");
  const engine = await Engine.open({
    cacheDir: opts.cacheDir,
    scope: project.dir,
    remote: opts.remote,
    // Remote-cache trouble and lambda warnings, where no progress view listens.
    onEvent: (e) => {
      if (e.type === "log" && e.target === "remote-cache") process.stderr.write(`warning: ${e.message}\n`);
    },
  });
  try {
    return await buildLambdasOn(engine, project, lambdas, opts, layers);
  } finally {
    await engine.close({ log: false });
  }
}

async function buildLambdasOn(
  engine: Engine,
  project: Project,
  lambdas: LambdaTarget[],
  opts: BuildLambdasOptions,
  layers: PythonLayerTarget[],
): Promise<LambdaReport[]> {
  const python = lambdas.filter((l): l is PythonLambdaTarget => l.language === "python");
  const node = lambdas.filter((l): l is NodeLambdaTarget => l.language === "node");
  const provenance = await provenanceOf(project, opts.provenance);
  const settled = await Promise.allSettled([
    planPython(engine, project, python, layers, { ...opts, provenance }),
    node.length
      ? import("./node/build-node.ts").then((m) =>
          m.planNodeLambdas(project, node, { ...opts, provenance, engine }),
        )
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
  engine: Engine,
  project: Project,
  lambdas: PythonLambdaTarget[],
  layers: PythonLayerTarget[],
  opts: BuildLambdasOptions & { provenance: ProvenanceContext | undefined },
): Promise<LambdaPlan> {
  if ((lambdas.length === 0 && layers.length === 0) || !project.python) return NOTHING;
  const started = performance.now();
  const store = engine.store;
  const keys = {
    project,
    settings: project.python,
    indexUrls: indexUrls(project.python),
    outDir: lambdaOutDir(project, opts.out),
    sbom: opts.sbom ?? "spdx",
    provenance: opts.provenance,
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
  if (reports.length === current.length) {
    const cachedStep = (r: LambdaReport) =>
      engine.timings.step(r.target, "zip", async () => ({ value: r, cached: true }));
    return { write: () => Promise.all(reports.map(cachedStep)), discard: async () => {} };
  }
  // Only now, on a miss, is anything asked of the shared cache: a no-op build never talks to it.
  const { planPythonZips } = await import("./python-plans.ts");
  const memo = opts.memo ?? residentZipMemo();
  // Lambdas only: what was just found for each is what planning would find again.
  const checked = new Map(
    zips.flatMap((z, i) => (z.kind === "lambda" && current[i] ? [[z.path, current[i]] as const] : [])),
  );
  const plan = await planPythonZips({ ...keys, store, engine, checked }, lambdas, layers, memo);
  return plan;
}
