import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { PYPI_SIMPLE } from "../config/lambda-target.ts";
import type { PythonLambdaTarget, PythonLayerTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import type { SimpleIndex } from "../python/index-client.ts";
import { indexUrlsWithFileOptions, requirementsIndexOptions } from "../python/requirements-indexes.ts";
import { sweepDeadTemps } from "../util/dead-temps.ts";
import { allSettledOrThrow } from "../util/settle.ts";
import { isSha256Hex } from "../util/sha256-hex.ts";
import type { LambdaPlan } from "./build-lambdas.ts";
import { planPythonLambda } from "./build-python.ts";
import { discardPlanned, writePlanned, type ZipMemo } from "./planned-zip.ts";
import type { PythonContext } from "./python-context.ts";

/**
 * Plans every Python layer and lambda (in parallel; each checks its own record first), then
 * writes them all, or none when any of them fails.
 */
export async function planPythonZips(
  base: Omit<PythonContext, "index"> & { engine: Engine },
  lambdas: PythonLambdaTarget[],
  layers: PythonLayerTarget[],
  memo?: ZipMemo,
): Promise<LambdaPlan> {
  const { engine, ...rest } = base;
  const cacheDir = engine.store.root;
  const wheelDir = join(cacheDir, "blobs", "sha256");
  await adoptOldWheels(cacheDir, wheelDir);
  // `--index-url` / `--extra-index-url` lines in the requirements file count, as with pip.
  const options = await requirementsIndexOptions(
    rest.settings.requirementsFile,
    "python.requirements",
    rest.project.dir,
  );
  const urls =
    options.length === 0
      ? base.indexUrls
      : indexUrlsWithFileOptions({
          indexUrl: rest.settings.indexUrl,
          extraIndexUrls: rest.settings.extraIndexUrls,
          env: process.env,
          defaultUrl: PYPI_SIMPLE,
          options,
        });
  const ctx: PythonContext = {
    ...rest,
    zipMemo: memo,
    ...(options.length === 0 ? {} : { resolveIndexUrls: urls }),
    // Only a build that asks an index may download wheels: only it sweeps what killed downloads
    // left (an edit that reuses its wheel part never lists the blobs).
    index: indexSteps(engine, join(cacheDir, "python"), wheelDir, async () => {
      await sweepDeadTemps(wheelDir);
      return (await import("../python/index-client.ts")).simpleIndex({
        urls,
        cacheDir: join(cacheDir, "python"),
        wheelDir,
        // With a shared cache, wheels travel through it like layer blobs (verified by sha256). A
        // hash that is not 64 hex never names a blob or a URL: the wheel is simply not shared.
        fromCache: async (sha) =>
          base.store?.remote && isSha256Hex(sha) ? base.store.ensureBlob(`sha256:${sha}`) : false,
        onWheel: (sha, path) => {
          const remote = base.store?.remote;
          if (remote && isSha256Hex(sha))
            void stat(path).then(
              (st) => remote.putBlob(`sha256:${sha}`, st.size, path),
              () => {},
            );
        },
      });
    }),
  };
  const settled = await Promise.allSettled([
    ...layers.map(async (layer) => (await import("./build-lambda-layer.ts")).planPythonLayer(layer, ctx)),
    ...lambdas.map((target) => planPythonLambda(target, ctx)),
  ]);
  const planned = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const discard = () => Promise.all(planned.map((p) => discardPlanned(p))).then(() => {});
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await discard();
    throw failed.reason;
  }
  const write = (p: (typeof planned)[number]) =>
    engine.timings.step(p.kind === "current" ? p.report.target : p.name, "zip", async () => ({
      value: await writePlanned(p, ctx.store, memo),
      cached: p.kind === "current",
    }));
  return { write: () => allSettledOrThrow(planned.map(write)), discard };
}

/**
 * Wheels cached by an earlier tug under `python/wheels/sha256` become blobs of the CAS (same
 * sha256 names), once, so upgrading does not download them all again.
 */
async function adoptOldWheels(cacheDir: string, wheelDir: string): Promise<void> {
  const old = join(cacheDir, "python", "wheels", "sha256");
  const names = await readdir(old).catch(() => undefined);
  if (!names) return;
  await mkdir(wheelDir, { recursive: true });
  for (const name of names) {
    if (/^[0-9a-f]{64}$/.test(name)) await rename(join(old, name), join(wheelDir, name)).catch(() => {});
  }
  await rm(join(cacheDir, "python", "wheels"), { recursive: true, force: true });
}

/**
 * The index client, made on first use: a build that reuses its last zip's wheels never asks an
 * index anything, and does not load the client (or the version parser it checks METADATA with).
 * Each page, metadata file and wheel is one engine step (target `python-index`), once per build:
 * `--timings`, the progress view and `--json` show what the index cost, and what came from cache.
 */
function indexSteps(
  engine: Engine,
  indexCacheDir: string,
  wheelDir: string,
  make: () => Promise<SimpleIndex>,
): PythonContext["index"] {
  let index: Promise<SimpleIndex> | undefined;
  const get = () => {
    index ??= make();
    return index;
  };
  const memo = new Map<string, Promise<unknown>>();
  const step = <T>(
    name: string,
    id: string,
    cachedAt: string | undefined,
    run: (i: SimpleIndex) => Promise<T>,
  ): Promise<T> => {
    let p = memo.get(id) as Promise<T> | undefined;
    if (!p) {
      p = engine.timings.step("python-index", name, async () => {
        const cached = cachedAt !== undefined && (await exists(cachedAt));
        return { value: await run(await get()), cached };
      });
      memo.set(id, p);
      p.catch(() => memo.delete(id));
    }
    return p;
  };
  return {
    projectFiles: (name) => step(`page ${name}`, `page ${name}`, undefined, (i) => i.projectFiles(name)),
    metadata: async (file) => {
      const { metadataCachePath } = await import("../python/index-client.ts");
      return step(
        `metadata ${file.filename}`,
        `metadata ${file.url}`,
        metadataCachePath(indexCacheDir, file),
        (i) => i.metadata(file),
      );
    },
    wheelPath: (file) =>
      step(
        `wheel ${file.filename}`,
        `wheel ${file.sha256 ?? file.url}`,
        file.sha256 && isSha256Hex(file.sha256) ? join(wheelDir, file.sha256) : undefined,
        (i) => i.wheelPath(file),
      ),
  };
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
