import { mkdir, mkdtemp, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { esbuildVersion } from "../../builders/node.ts";
import type { NodeLambdaTarget, Project } from "../../config/types.ts";
import { defaultCacheDir } from "../../engine/cache-store.ts";
import type { Engine } from "../../engine/engine.ts";
import { hashJson } from "../../engine/key.ts";
import { TugError } from "../../errors.ts";
import { sweepDeadTemps, tempPathFor } from "../../util/dead-temps.ts";
import { allSettledOrThrow } from "../../util/settle.ts";
import type { ZipEntry } from "../../zip/entry.ts";
import { createZip } from "../../zip/zip-writer.ts";
import { type LambdaDistribution, type LambdaReport, lambdaOutDir } from "../build-python.ts";
import { freshRecord, saveRecord, watchedPaths } from "./build-record.ts";
import { bundleLambda } from "./bundle.ts";
import { checkBundleInputs } from "./bundle-inputs.ts";
import { detectNativePackages, installNatives, nativeSpecs } from "./native-packages.ts";

/** Bumped when the zip's layout or the metadata changes, so older records no longer match. */
const LAYOUT_VERSION = 1;
/** Lambda's Node.js runtimes ship AWS SDK v3: bundling it only makes the zip bigger. */
export const DEFAULT_EXTERNALS = ["@aws-sdk/*"];

export interface BuildNodeLambdasOptions {
  /** `--out DIR`: zips go to DIR/lambdas (default `.tug/out/lambdas`). */
  out?: string | undefined;
  cacheDir?: string | undefined;
  /** The build's engine: its cache root and timings (each bundle and zip is a step). */
  engine?: Engine | undefined;
}

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

type Planned =
  | { cached: LambdaReport }
  | {
      cached?: undefined;
      target: NodeLambdaTarget;
      zipPath: string;
      key: string;
      entries: ZipEntry[];
      meta: Omit<NodeLambdaMetadata, "digest">;
      watched: string[];
      since: number;
      started: number;
      cleanup: () => Promise<void>;
    };

/**
 * Node.js lambdas: one esbuild bundle per handler (`src/api.ts` → `src/api.js`, CommonJS, for the
 * runtime's Node version), plus native packages installed by npm for linux and the lambda's CPU
 * and copied as they are into node_modules/. Every lambda is bundled before any zip is written,
 * so one bad handler leaves every output as it was. Unchanged lambdas are not rebuilt.
 */
export async function buildNodeLambdas(
  project: Project,
  lambdas: NodeLambdaTarget[],
  opts: BuildNodeLambdasOptions,
): Promise<LambdaReport[]> {
  return (await planNodeLambdas(project, lambdas, opts)).write();
}

/** Bundles every lambda (nothing written yet); then `write` lands them all, or `discard` drops them. */
export async function planNodeLambdas(
  project: Project,
  lambdas: NodeLambdaTarget[],
  opts: BuildNodeLambdasOptions,
): Promise<{ write(): Promise<LambdaReport[]>; discard(): Promise<void> }> {
  const outDir = lambdaOutDir(project, opts.out);
  const cacheDir = opts.engine?.store.root ?? opts.cacheDir ?? defaultCacheDir();
  const timings = opts.engine?.timings;
  const settled = await Promise.allSettled(
    lambdas.map((target) => {
      const plan = () => planNodeLambda({ target, projectDir: project.dir, outDir, cacheDir });
      return timings
        ? timings.step(target.name, "bundle", async () => {
            const p = await plan();
            return { value: p, cached: p.cached !== undefined };
          })
        : plan();
    }),
  );
  const fulfilled = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const discard = async () => {
    for (const p of fulfilled) if (!p.cached) await p.cleanup();
  };
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await discard();
    throw failed.reason;
  }
  return {
    write: () =>
      allSettledOrThrow(
        fulfilled.map((p) => {
          const write = () => (p.cached ? Promise.resolve(p.cached) : writeNodeLambda(p, cacheDir));
          if (!timings) return write();
          const name = p.cached ? p.cached.target : p.target.name;
          return timings.step(name, "zip", async () => ({ value: await write(), cached: !!p.cached }));
        }),
      ),
    discard,
  };
}

/** Everything about a lambda that is not in a file it reads: a change rebuilds it. */
function configKey(target: NodeLambdaTarget, projectDir: string): string {
  return hashJson({
    layout: LAYOUT_VERSION,
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
  cacheDir: string;
}): Promise<Planned> {
  const started = performance.now();
  const { target, projectDir, cacheDir } = o;
  const zipPath = join(o.outDir, `${target.name}.zip`);
  await checkHandlerFile(target, projectDir);
  const key = configKey(target, projectDir);
  const record = await freshRecord({ cacheDir, zipPath, key });
  if (record) {
    const { digest, bytes, unpackedBytes, distributions } = record;
    const ms = Math.round(performance.now() - started);
    return {
      cached: {
        target: target.name,
        kind: "lambda",
        path: zipPath,
        digest,
        bytes,
        unpackedBytes,
        distributions,
        cached: true,
        ms,
      },
    };
  }

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
    return {
      target,
      zipPath,
      key,
      entries,
      meta: {
        runtime: target.runtime.runtime,
        architecture: target.runtime.arch,
        handler: target.awsHandler,
        distributions,
        ...(target.sourcemap ? { environment: { NODE_OPTIONS: "--enable-source-maps" } } : {}),
      },
      watched: watchedPaths(bundle.inputs, projectDir, extra),
      since,
      started,
      cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Writes `NAME.zip` and `NAME.zip.json` by rename, then records what they were built from. */
async function writeNodeLambda(
  p: Exclude<Planned, { cached: LambdaReport }>,
  cacheDir: string,
): Promise<LambdaReport> {
  try {
    await mkdir(join(p.zipPath, ".."), { recursive: true });
    await sweepDeadTemps(join(p.zipPath, ".."));
    // Unique per writer: two builds of one project at once must not rename each other's files.
    const tmp = tempPathFor(p.zipPath);
    const metaTmp = tempPathFor(`${p.zipPath}.json`);
    let result: Awaited<ReturnType<typeof createZip>>;
    let digest: string;
    try {
      result = await createZip(p.entries, tmp);
      digest = `sha256:${result.sha256}`;
      const { runtime, architecture, handler, distributions, environment } = p.meta;
      const meta: NodeLambdaMetadata = {
        runtime,
        architecture,
        handler,
        digest,
        distributions,
        ...(environment ? { environment } : {}),
      };
      await writeFile(metaTmp, `${JSON.stringify(meta, null, 2)}\n`);
      await rename(tmp, p.zipPath);
      await rename(metaTmp, `${p.zipPath}.json`);
    } catch (e) {
      await Promise.all([rm(tmp, { force: true }), rm(metaTmp, { force: true })]);
      throw e;
    }
    const report = {
      digest,
      bytes: result.bytes,
      unpackedBytes: result.unpackedBytes,
      distributions: p.meta.distributions,
    };
    await saveRecord({
      cacheDir,
      zipPath: p.zipPath,
      key: p.key,
      watched: p.watched,
      since: p.since,
      result: report,
    });
    return {
      target: p.target.name,
      kind: "lambda",
      path: p.zipPath,
      ...report,
      cached: false,
      ms: Math.round(performance.now() - p.started),
    };
  } finally {
    await p.cleanup();
  }
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
