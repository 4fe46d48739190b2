import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { esbuildVersion } from "../../builders/node.ts";
import type { NodeLambdaTarget, Project } from "../../config/types.ts";
import type { Engine } from "../../engine/engine.ts";
import { hashJson } from "../../engine/key.ts";
import { TugError } from "../../errors.ts";
import { bundleLambda } from "../../node/bundle.ts";
import { checkBundleInputs } from "../../node/bundle-inputs.ts";
import { detectNativePackages, installNatives, nativeSpecs } from "../../node/native-packages.ts";
import { bundledPackages, packageJsonInfo } from "../../node/package-info.ts";
import type { ProvenanceContext } from "../../sbom/image-provenance.ts";
import type { SbomFormat, SbomPackage } from "../../sbom/sbom-model.ts";
import { allSettledOrThrow } from "../../util/settle.ts";
import type { ZipEntry } from "../../zip/entry.ts";
import { type LambdaDistribution, type LambdaReport, lambdaOutDir } from "../build-python.ts";
import { discardPlanned, type PlannedZip, previousOutput, writePlanned } from "../planned-zip.ts";
import { sbomForKey } from "../python-keys.ts";
import { recordedInputs, watchedPaths } from "./build-record.ts";

/** Bumped when the zip's layout or the metadata changes, so older records no longer match. */
const LAYOUT_VERSION = 1;
/** Lambda's Node.js runtimes ship AWS SDK v3: bundling it only makes the zip bigger. */
export const DEFAULT_EXTERNALS = ["@aws-sdk/*"];

export interface BuildNodeLambdasOptions {
  /** `--out DIR`: zips go to DIR/lambdas (default `.tug/out/lambdas`). */
  out?: string | undefined;
  /** The build's engine: its store holds the output records; each bundle and zip is a step. */
  engine: Engine;
  /** `--sbom`: the document written beside each zip (default SPDX). */
  sbom?: SbomFormat | undefined;
  /** `--provenance`: an SLSA statement beside each zip. */
  provenance?: ProvenanceContext | undefined;
}

type Attest = Required<Pick<BuildNodeLambdasOptions, "sbom">> & Pick<BuildNodeLambdasOptions, "provenance">;

/** The `NAME.zip.json` of a Node.js lambda. */
export interface NodeLambdaMetadata {
  runtime: string;
  architecture: "x86_64" | "arm64";
  handler: string;
  digest: string;
  /** The packages copied into node_modules/ (native ones and what they need); `wheel` is "". */
  distributions: LambdaDistribution[];
  /** Only with source maps: what the function's configuration must set. */
  environment?: Record<string, string>;
}

/**
 * Node.js lambdas: one esbuild bundle per handler (`src/api.ts` → `src/api.js`, CommonJS, for the
 * runtime's Node version), plus native packages installed by npm for linux and the lambda's CPU
 * and copied as they are into node_modules/. Every lambda is bundled before any zip is written,
 * so one bad handler leaves every output as it was. The output record, its no-op check and the
 * zip writer are the ones Python lambdas use (output-record.ts, planned-zip.ts).
 */
export async function planNodeLambdas(
  project: Project,
  lambdas: NodeLambdaTarget[],
  opts: BuildNodeLambdasOptions,
): Promise<{ write(): Promise<LambdaReport[]>; discard(): Promise<void> }> {
  const outDir = lambdaOutDir(project, opts.out);
  const { engine } = opts;
  const settled = await Promise.allSettled(
    lambdas.map((target) =>
      engine.timings.step(target.name, "bundle", async () => {
        const attest: Attest = { sbom: opts.sbom ?? "spdx", provenance: opts.provenance };
        const p = await planNodeLambda({ target, projectDir: project.dir, outDir, engine, attest });
        return { value: p, cached: p.kind === "current" };
      }),
    ),
  );
  const fulfilled = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const discard = async () => {
    await Promise.all(fulfilled.map(discardPlanned));
  };
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await discard();
    throw failed.reason;
  }
  return {
    write: () =>
      allSettledOrThrow(
        fulfilled.map((p) =>
          engine.timings.step(p.kind === "current" ? p.report.target : p.name, "zip", async () => ({
            value: await writePlanned(p, engine.store),
            cached: p.kind === "current",
          })),
        ),
      ),
    discard,
  };
}

/**
 * A Node lambda's output-record key: everything about it that is not in a file it reads (a
 * change rebuilds it). `tug explain` computes the same key.
 */
export function nodeLambdaKey(
  target: NodeLambdaTarget,
  projectDir: string,
  zipPath: string,
  attest: Attest = { sbom: "spdx" },
): string {
  return hashJson({
    sbom: sbomForKey(attest),
    layout: LAYOUT_VERSION,
    zipPath,
    esbuild: esbuildVersion,
    runtime: target.runtime,
    handler: [relative(projectDir, target.handlerFile), target.handlerFunction],
    minify: target.minify,
    sourcemap: target.sourcemap,
    external: target.external,
    native: target.native,
  });
}

async function planNodeLambda(o: {
  target: NodeLambdaTarget;
  projectDir: string;
  outDir: string;
  engine: Engine;
  attest: Attest;
}): Promise<PlannedZip> {
  const started = performance.now();
  const { target, projectDir, engine } = o;
  const cacheDir = engine.store.root;
  const zipPath = join(o.outDir, `${target.name}.zip`);
  await checkHandlerFile(target, projectDir);
  const key = nodeLambdaKey(target, projectDir, zipPath, o.attest);
  const { previous, current, reason } = await previousOutput(
    engine.store,
    key,
    zipPath,
    { target: target.name, kind: "lambda" },
    started,
    projectDir,
  );
  if (current) return { kind: "current", report: current };

  const since = Date.now();
  const natives = [...new Set([...(await detectNativePackages(projectDir)), ...target.native])].sort();
  const externals = [
    ...new Set([...DEFAULT_EXTERNALS, ...target.external, ...natives.flatMap((n) => [n, `${n}/*`])]),
  ];
  const staging = await mkdtemp(join(tmpdir(), "tug-lambda-bundle-"));
  const cleanups = [() => rm(staging, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const c of cleanups) await c();
  };
  try {
    const bundle = await bundleLambda({ target, projectDir, externals, staging });
    await checkBundleInputs({ inputs: bundle.inputs, projectDir, where: target.where });
    const used = bundle.requires.filter((r) => natives.includes(r));
    const entries: ZipEntry[] = [{ name: bundle.name, data: bundle.code }];
    if (bundle.map) entries.push({ name: `${bundle.name}.map`, data: bundle.map });
    let distributions: LambdaDistribution[] = [];
    const extra: string[] = [];
    if (used.length > 0) {
      const specs = await nativeSpecs(projectDir, used, target.where);
      for (const n of used) extra.push(join(projectDir, "node_modules", n, "package.json"));
      for (const s of specs)
        if (s.spec.startsWith("file:")) extra.push(join(s.spec.slice(5), "package.json"));
      const installed = await installNatives({
        specs,
        arch: target.runtime.arch,
        projectDir,
        cacheDir,
        where: target.where,
      });
      cleanups.push(installed.cleanup);
      entries.push(...installed.entries);
      distributions = installed.distributions;
    }
    const inputs = await recordedInputs(watchedPaths(bundle.inputs, projectDir, extra), since);
    const attesting = o.attest.sbom !== "none" || o.attest.provenance !== undefined;
    // One row per name@version (CycloneDX bom-refs are purls, and must be unique).
    const sbomPackages = attesting
      ? [
          ...new Map(
            [...(await bundledPackages(bundle.inputs)), ...(await installedNpmPackages(entries))].map((p) => [
              `${p.name}@${p.version}`,
              p,
            ]),
          ).values(),
        ]
      : undefined;
    return {
      kind: "write",
      name: target.name,
      reportKind: "lambda",
      zipPath,
      key,
      entries,
      distributions,
      ecosystem: "npm",
      sbom: o.attest.sbom,
      ...(sbomPackages ? { sbomPackages } : {}),
      ...(o.attest.provenance
        ? { provenance: { ctx: o.attest.provenance, target, lockDirs: [projectDir] } }
        : {}),
      meta: {
        runtime: target.runtime.runtime,
        architecture: target.runtime.arch,
        handler: target.awsHandler,
      },
      ...(target.sourcemap ? { metaAfter: { environment: { NODE_OPTIONS: "--enable-source-maps" } } } : {}),
      inputs: inputs.inputs,
      recordable: inputs.recordable,
      ...(reason ? { reason } : {}),
      previous,
      wheels: [],
      cleanup,
      warnings: [],
      started,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** The packages copied into the zip's node_modules/, from each package root's package.json. */
async function installedNpmPackages(entries: ZipEntry[]): Promise<SbomPackage[]> {
  const roots = entries.flatMap((e) =>
    "source" in e &&
    /^node_modules\/(?:.+\/node_modules\/)?(?:@[^/]+\/)?[^/@][^/]*\/package\.json$/.test(e.name)
      ? [e.source]
      : [],
  );
  const found = await Promise.all(roots.map((p) => packageJsonInfo(p)));
  const unique = new Map(found.flatMap((p) => (p ? [[`${p.name}@${p.version}`, p] as const] : [])));
  return [...unique.values()];
}

async function checkHandlerFile(target: NodeLambdaTarget, projectDir: string): Promise<void> {
  const shown = relative(projectDir, target.handlerFile).split(sep).join("/");
  if (shown.startsWith("../")) {
    throw new TugError({
      what: `handler file ${shown} is outside the project directory`,
      where: target.where,
      hint: "the bundle is placed at the handler's path inside the zip: keep handlers under the directory of tug.yaml",
    });
  }
  const st = await stat(target.handlerFile).catch(() => undefined);
  if (!st?.isFile()) {
    throw new TugError({
      what: `handler file ${shown} does not exist`,
      where: target.where,
      hint: "handler is FILE:FUNCTION with FILE relative to the directory that holds tug.yaml",
    });
  }
}
