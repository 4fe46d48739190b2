import { indexUrls } from "../config/lambda-target.ts";
import type { Project } from "../config/types.ts";
import { CacheStore, defaultCacheDir } from "../engine/cache-store.ts";
import { TugError } from "../errors.ts";
import type { StepExplanation } from "../image/explain-target.ts";
import type { SbomFormat } from "../sbom/sbom-model.ts";
import { previousOutput, readOutputRecord } from "./output-record.ts";
import { lambdaKey, lambdaOutDir, lambdaZipPath, layerKey, layerZipPath } from "./python-keys.ts";

/**
 * Why a lambda (Python or Node) or a Python layer zip was (or would be) rebuilt, from its output
 * record alone: nothing is resolved, bundled or written.
 */
export async function explainLambda(
  project: Project,
  name: string,
  opts: { cacheDir?: string; out?: string; sbom?: SbomFormat } = {},
): Promise<StepExplanation[]> {
  const lambda = project.lambdas?.find((l) => l.name === name);
  const layer = project.layers?.find((l) => l.name === name);
  const store = new CacheStore(opts.cacheDir ?? defaultCacheDir());
  const outDir = lambdaOutDir(project, opts.out);
  let key: string;
  let zipPath: string;
  let kind: "lambda" | "layer" = "lambda";
  let platform: string;
  if (lambda?.language === "node") {
    // Loaded only for a Node lambda: its key holds esbuild's version.
    const { nodeLambdaKey } = await import("./node/build-node.ts");
    zipPath = lambdaZipPath({ outDir }, name);
    key = nodeLambdaKey(lambda, project.dir, zipPath, { sbom: opts.sbom ?? "spdx" });
    platform = `${lambda.runtime.runtime}/${lambda.runtime.arch}`;
  } else {
    if (!project.python || !(lambda || layer)) {
      throw new TugError({ what: `no lambda or layer named ${JSON.stringify(name)}`, where: project.file });
    }
    const keys = {
      project,
      settings: project.python,
      indexUrls: indexUrls(project.python),
      outDir,
      sbom: opts.sbom ?? "spdx",
    };
    if (lambda) {
      [key, zipPath] = [lambdaKey(lambda, keys), lambdaZipPath(keys, name)];
      platform = `${lambda.runtime.runtime}/${lambda.runtime.arch}`;
    } else {
      [key, zipPath, kind] = [layerKey(layer!, keys), layerZipPath(keys, name), "layer"];
      platform = `${layer!.runtime.runtime}/${layer!.runtime.arch}`;
    }
  }
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
      platform,
      status: current ? "up-to-date" : record ? "rebuild" : "missing",
      reasons: current ? [] : [reason ?? "no earlier build"],
      lastRebuildReasons: record?.builtBecause ? [record.builtBecause] : [],
    },
  ];
}
