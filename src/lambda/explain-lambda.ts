import type { StepExplanation } from "../build/explain-target.ts";
import { indexUrls } from "../config/lambda-target.ts";
import type { Project } from "../config/types.ts";
import { CacheStore, defaultCacheDir } from "../engine/cache-store.ts";
import { TugError } from "../errors.ts";
import type { SbomFormat } from "../sbom/sbom-model.ts";
import { previousOutput, readOutputRecord } from "./output-record.ts";
import { lambdaKey, lambdaOutDir, lambdaZipPath, layerKey, layerZipPath } from "./python-keys.ts";

/**
 * Why a Python lambda or layer zip was (or would be) rebuilt, from its output record alone:
 * nothing is resolved, bundled or written.
 */
export async function explainLambda(
  project: Project,
  name: string,
  opts: { cacheDir?: string; out?: string; sbom?: SbomFormat } = {},
): Promise<StepExplanation[]> {
  const lambda = project.lambdas?.find((l) => l.name === name);
  const layer = project.layers?.find((l) => l.name === name);
  if (lambda?.language === "node" || !project.python) {
    throw new TugError({
      what: `tug explain covers images and Python lambdas and layers; ${name} is a Node.js lambda`,
      where: lambda?.where,
      hint: "tug build --json says why a Node lambda was rebuilt (cached: false) after the fact",
    });
  }
  const store = new CacheStore(opts.cacheDir ?? defaultCacheDir());
  const keys = {
    project,
    settings: project.python,
    indexUrls: indexUrls(project.python),
    outDir: lambdaOutDir(project, opts.out),
    sbom: opts.sbom ?? "spdx",
  };
  const [key, zipPath, kind] = lambda
    ? [lambdaKey(lambda, keys), lambdaZipPath(keys, name), "lambda" as const]
    : [layerKey(layer!, keys), layerZipPath(keys, name), "layer" as const];
  const record = await readOutputRecord(store, key);
  const { current, reason } = await previousOutput(
    store,
    key,
    zipPath,
    { target: name, kind },
    0,
    project.dir,
  );
  return [
    {
      step: "zip",
      platform: lambda
        ? `${lambda.runtime.runtime}/${lambda.runtime.arch}`
        : `${layer!.runtime.runtime}/${layer!.runtime.arch}`,
      status: current ? "up-to-date" : record ? "rebuild" : "missing",
      reasons: current ? [] : [reason ?? "no earlier build"],
      lastRebuildReasons: record?.builtBecause ? [record.builtBecause] : [],
    },
  ];
}
