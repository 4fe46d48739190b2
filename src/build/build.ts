import { rm } from "node:fs/promises";
import { join } from "node:path";
import { hostPlatform } from "../config/platform.ts";
import { buildOrder } from "../config/target-graph.ts";
import type { ImageTarget, LambdaTarget, Project, PythonLayerTarget } from "../config/types.ts";
import { Engine } from "../engine/engine.ts";
import type { RemoteMode } from "../engine/remote-sync.ts";
import { allSettledOrThrow } from "../engine/settle.ts";
import type { EngineEvent, StepTiming } from "../engine/timings.ts";
import { TugError } from "../errors.ts";
import type { LambdaReport } from "../lambda/build-python.ts";
import type { Compression } from "../oci/compress.ts";
import { isCorruptBlob } from "../oci/corrupt-blob.ts";
import { hexOf } from "../oci/digest.ts";
import { parseReference } from "../oci/reference.ts";
import { platformString } from "../oci/types.ts";
import { gitInfo } from "./git-info.ts";
import { type RegistryAccess, registryAccess, registrySink } from "./registry-sink.ts";
import { fanOut, layoutSink, type Published, type Sink, tarballSink } from "./sinks.ts";
import { type TargetBuilds, targetBuilds } from "./target-builds.ts";
import type { TargetImage } from "./target-image.ts";

export interface BuildOptions {
  /** Target names; all targets when empty. */
  targets?: string[];
  /** Push here (already resolved from --repo / TUG_REPO / tug.yaml); local outputs only when unset. */
  repo?: string;
  /** Write an OCI layout (DIR/oci) and docker tarballs (DIR/NAME.tar); default `.tug/out` when no repo. */
  out?: string;
  offline?: boolean;
  insecureRegistries?: string[];
  cacheDir?: string;
  jobs?: number;
  /** A shared cache server (`cache.remote` / TUG_REMOTE_CACHE) and how to use it. */
  remoteCache?: { url: string; mode: RemoteMode };
  /** Trust this cache's record of earlier pushes: a no-op build sends no request at all. */
  trustPushed?: boolean;
  /** Reuse an engine (dev loop, tests); it is not closed. */
  engine?: Engine;
  registry?: RegistryAccess;
  /** Step start/end and log events, for progress displays. */
  onEvent?: (e: EngineEvent) => void;
}

export interface ArtifactReport {
  target: string;
  kind: "image";
  platforms: string[];
  digest: string;
  ref: string;
  cached: boolean;
  ms: number;
  pushedBytes: number;
}

export interface BuildResult {
  ms: number;
  artifacts: ArtifactReport[];
  /** Lambda zips, in tug.yaml order. */
  lambdas: LambdaReport[];
  /** Every step with its time and whether it was a cache hit, for `--timings`. */
  steps: StepTiming[];
}

export function selectTargets(project: Project, names: string[] | undefined): ImageTarget[] {
  if (!names || names.length === 0) return project.targets;
  return names.map((n) => {
    const t = project.targets.find((x) => x.name === n);
    if (!t) throw noTarget(project, n);
    return t;
  });
}

function noTarget(project: Project, name: string): TugError {
  const all = [...project.targets, ...(project.lambdas ?? []), ...(project.layers ?? [])].map((x) => x.name);
  return new TugError({
    what: `no target named ${JSON.stringify(name)}`,
    where: project.file,
    hint: `targets are: ${all.join(", ") || "(none)"}`,
  });
}

/** Images and lambdas named by `names` (all of both when empty); an unknown name is an error. */
export function selectAll(
  project: Project,
  names: string[] | undefined,
): { images: ImageTarget[]; lambdas: LambdaTarget[]; layers: PythonLayerTarget[] } {
  const lambdas = project.lambdas ?? [];
  const layers = project.layers ?? [];
  if (!names || names.length === 0) return { images: project.targets, lambdas, layers };
  const images: ImageTarget[] = [];
  const chosen: LambdaTarget[] = [];
  const chosenLayers: PythonLayerTarget[] = [];
  for (const n of names) {
    const image = project.targets.find((x) => x.name === n);
    const lambda = lambdas.find((x) => x.name === n);
    const layer = layers.find((x) => x.name === n);
    if (image) images.push(image);
    else if (lambda) chosen.push(lambda);
    else if (layer) chosenLayers.push(layer);
    else throw noTarget(project, n);
  }
  return { images, lambdas: chosen, layers: chosenLayers };
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/;

/** gzip level 1 where bandwidth is free (loopback, local disk), 6 where bytes cross a network. */
export function defaultCompression(repo: string | undefined): Compression {
  const host = repo?.split("/")[0];
  return { kind: "gzip", level: host === undefined || LOOPBACK.test(host) ? 1 : 6 };
}

/** Builds the selected targets and publishes each to the registry and/or local outputs. */
export async function build(project: Project, opts: BuildOptions = {}): Promise<BuildResult> {
  const t0 = performance.now();
  const selected = selectAll(project, opts.targets);
  const targets = selected.images;
  // Loaded only when there are lambdas: an images-only no-op build should not parse the lambda
  // stack (Python parser, zip writer, index client) at start-up.
  const lambdasBuilt =
    selected.lambdas.length + selected.layers.length === 0
      ? Promise.resolve([])
      : import("../lambda/build-lambdas.ts").then((m) =>
          m.buildLambdas(
            project,
            selected.lambdas,
            { out: opts.out, cacheDir: opts.cacheDir, remote: opts.remoteCache },
            selected.layers,
          ),
        );
  if (targets.length === 0) {
    const lambdas = await lambdasBuilt;
    return { ms: Math.round(performance.now() - t0), artifacts: [], lambdas, steps: [] };
  }
  // Settled below; a rejection before then must not be reported as unhandled.
  lambdasBuilt.catch(() => {});
  const engine =
    opts.engine ??
    (await Engine.open({
      cacheDir: opts.cacheDir,
      scope: project.dir,
      jobs: opts.jobs,
      remote: opts.remoteCache,
      onEvent: opts.onEvent,
    }));
  const registry = opts.registry ?? registryAccess({ insecureRegistries: opts.insecureRegistries });
  if (opts.onEvent && opts.engine) engine.timings.on(opts.onEvent);
  const builds: TargetBuilds[] = [];
  try {
    const git = await gitInfo(project.dir);
    const annotations: Record<string, string> = {};
    if (git.source) annotations["org.opencontainers.image.source"] = git.source;
    if (git.revision) annotations["org.opencontainers.image.revision"] = git.revision;
    const sink = sinkFor(project, opts, engine, registry);
    const graph = (): TargetBuilds =>
      targetBuilds({
        engine,
        registry,
        offline: opts.offline ?? false,
        targets: project.targets,
        compression: (target) => target.compression ?? defaultCompression(opts.repo),
        annotations,
      });
    builds.push(graph());
    // Bases (`tug://`) first: a target named alone still builds the targets it stands on, which
    // are not published unless named too. Every target starts now; each waits only for its base.
    const order = buildOrder(project.targets, targets);
    for (const target of order) void builds[0]!.image(target);
    // Every target settles before a failure is reported: the engine and registry client are
    // closed right after, and no upload may still be running then.
    const artifacts = await allSettledOrThrow(
      targets.map(async (target) => {
        const started = performance.now();
        let graphOfThisTry = builds[0]!;
        const once = async (): Promise<[TargetImage, Published]> => {
          const built = await graphOfThisTry.image(target);
          const published = await engine.timings.step(target.name, "publish", async () => {
            const p = await sink.publish(built.artifact, target.name, target.tags);
            return { value: p, cached: p.pushedBytes === 0 };
          });
          return [built, published];
        };
        let built: TargetImage;
        let published: Published;
        try {
          [built, published] = await once();
        } catch (e) {
          // A cache blob that fails its digest is dropped; the retry rebuilds it.
          if (!isCorruptBlob(e)) throw e;
          await engine.store.dropBlob(e.digest);
          // The layout sink copies cache blobs and verifies the copy; a leftover output blob is
          // removed so the retry writes it again.
          const out = outDir(project, opts);
          if (out) await rm(join(out, "oci", "blobs", "sha256", hexOf(e.digest)), { force: true });
          engine.timings.log(target.name, `dropped corrupt cache blob ${e.digest}; rebuilding`);
          // A fresh graph: the blob may belong to a base target's layer, built again with it.
          graphOfThisTry = graph();
          builds.push(graphOfThisTry);
          [built, published] = await once();
        }
        const report: ArtifactReport = {
          target: target.name,
          kind: "image",
          platforms: target.platforms.map(platformString),
          digest: published.digest,
          ref: published.ref,
          cached: built.cached,
          ms: Math.round(performance.now() - started),
          pushedBytes: published.pushedBytes,
        };
        return report;
      }),
    );
    const lambdas = await lambdasBuilt;
    return { ms: Math.round(performance.now() - t0), artifacts, lambdas, steps: engine.timings.steps };
  } finally {
    // A base target no failing dependent waited for may still be running.
    await Promise.all(builds.map((b) => b.settled()));
    if (!opts.engine) await engine.close();
    if (!opts.registry) await registry.close();
  }
}

function sinkFor(project: Project, opts: BuildOptions, engine: Engine, registry: RegistryAccess): Sink {
  const sinks: Sink[] = [];
  if (opts.repo) {
    const registryBase = (name: string): string[] => {
      const base = project.targets.find((t) => t.name === name)?.base;
      if (base?.kind !== "registry") return [];
      const [baseRef, repo] = [parseReference(base.ref), parseReference(`${opts.repo}/${name}`)];
      return baseRef.registry === repo.registry ? [baseRef.repository] : [];
    };
    // On `tug://NAME`: the base target's repository (pushed earlier or in this run) and the
    // registry base at the bottom of the chain. At most two tries before an upload.
    const mountFrom = (name: string): string[] => {
      const chain = buildOrder(
        project.targets,
        project.targets.filter((t) => t.name === name),
      );
      const base = chain.at(-1)?.base;
      if (base?.kind !== "target") return registryBase(name);
      return [parseReference(`${opts.repo}/${base.name}`).repository, ...registryBase(chain[0]!.name)];
    };
    sinks.push(registrySink(registry, engine, { repo: opts.repo, mountFrom, trustPushed: opts.trustPushed }));
  }
  const out = outDir(project, opts);
  if (out) {
    sinks.push(layoutSink(join(out, "oci"), engine.store.root));
    sinks.push(tarballSink(out, hostPlatform(), opts.repo));
  }
  return sinks.length === 1 ? sinks[0]! : fanOut(sinks);
}

function outDir(project: Project, opts: BuildOptions): string | undefined {
  return opts.out ?? (opts.repo ? undefined : join(project.dir, ".tug", "out"));
}
