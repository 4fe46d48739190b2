import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { PythonLambdaTarget, PythonLayerTarget } from "../config/types.ts";
import { allSettledOrThrow } from "../engine/settle.ts";
import type { LambdaPlan } from "./build-lambdas.ts";
import { planPythonLayer } from "./build-layer.ts";
import { planPythonLambda } from "./build-python.ts";
import { discardPlanned, writePlanned, type ZipMemo } from "./planned-zip.ts";
import { simpleIndex } from "./python/index-client.ts";
import type { PythonContext } from "./python-context.ts";

/**
 * Plans every Python layer and lambda (in parallel; each checks its own record first), then
 * writes them all, or none when any of them fails.
 */
export async function planPythonZips(
  base: Omit<PythonContext, "index"> & { cacheDir: string },
  lambdas: PythonLambdaTarget[],
  layers: PythonLayerTarget[],
  memo?: ZipMemo,
): Promise<LambdaPlan> {
  const { cacheDir, ...rest } = base;
  const ctx: PythonContext = {
    ...rest,
    index: simpleIndex({
      urls: base.indexUrls,
      cacheDir: join(cacheDir, "python"),
      wheelDir: join(cacheDir, "blobs", "sha256"),
      // With a shared cache, wheels travel through it like layer blobs (verified by sha256).
      fromCache: async (sha) => (base.store?.remote ? base.store.ensureBlob(`sha256:${sha}`) : false),
      onDownloaded: (sha, path) => {
        const remote = base.store?.remote;
        if (remote)
          void stat(path).then(
            (st) => remote.putBlob(`sha256:${sha}`, st.size, path),
            () => {},
          );
      },
    }),
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
  return { write: () => allSettledOrThrow(planned.map((p) => writePlanned(p, ctx.store, memo))), discard };
}
