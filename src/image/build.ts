import { resolve } from "node:path";
import type { ImageTarget, LambdaTarget, Project, PythonLayerTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import type { RemoteMode } from "../engine/remote-sync.ts";
import type { EngineEvent, StepTiming } from "../engine/timings.ts";
import { TugError } from "../errors.ts";
import type { LambdaReport } from "../lambda/build-python.ts";
import type { SbomFormat } from "../sbom/sbom-model.ts";
import type { SigningKey } from "../sign/keys.ts";
import type { ImageOutputs } from "./output-policy.ts";
import type { RegistryAccess } from "./registry-sink.ts";

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
  /** `--sbom`: the document attached to each image and written beside each zip (default SPDX 2.3). */
  sbom?: SbomFormat;
  /** `--sign-key`: sign each pushed image digest the cosign way (`sha256-<hex>.sig`). */
  signKey?: SigningKey;
  /** `--provenance`: attach an SLSA v1 provenance statement to each image and zip (default off). */
  provenance?: boolean;
  /**
   * Where images go and how they are compressed, composed by the caller (output-policy.ts's
   * `imageOutputs`). Unset: planned from `repo`, `out`, `trustPushed`, `sbom`, `signKey` and
   * `provenance` the same way.
   */
  outputs?: ImageOutputs;
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

/**
 * Builds the selected targets and publishes each to the registry and/or local outputs. One engine
 * serves the whole build: images and lambdas share its cache, its shared-cache session, its limits
 * and its timings, so `--timings` and the progress view list every step of both.
 */
export async function build(project: Project, opts: BuildOptions = {}): Promise<BuildResult> {
  const t0 = performance.now();
  const selected = selectAll(project, opts.targets);
  const targets = selected.images;
  const hasLambdas = selected.lambdas.length + selected.layers.length > 0;
  const engine =
    opts.engine ??
    (await (
      await import("../engine/engine.ts")
    ).Engine.open({
      cacheDir: opts.cacheDir,
      scope: project.dir,
      jobs: opts.jobs,
      remote: opts.remoteCache,
      onEvent: opts.onEvent,
    }));
  if (opts.onEvent && opts.engine) engine.timings.on(opts.onEvent);
  if (opts.out) engine.outputDirs.add(resolve(opts.out));
  try {
    // Loaded only when there are lambdas: an images-only no-op build should not parse the lambda
    // stack (Python parser, zip writer, index client) at start-up.
    const lambdasBuilt = !hasLambdas
      ? Promise.resolve([])
      : import("../lambda/build-lambdas.ts").then((m) =>
          m.buildLambdas(
            project,
            selected.lambdas,
            { out: opts.out, sbom: opts.sbom, provenance: opts.provenance, engine },
            selected.layers,
          ),
        );
    // Settled below; a rejection before then must not be reported as unhandled.
    lambdasBuilt.catch(() => {});
    // The image pipeline (tar and registry code) loads only for builds with images.
    const images =
      targets.length === 0
        ? { artifacts: [] }
        : await (await import("./build-images.ts"))
            .buildImages(project, targets, opts, engine)
            .catch(async (e: unknown) => {
              // No zip may still be written when the engine closes.
              await lambdasBuilt.catch(() => {});
              throw e;
            });
    const lambdas = await lambdasBuilt;
    for (const l of lambdas) for (const w of l.warnings ?? []) engine.timings.warn(l.target, w);
    return {
      ms: Math.round(performance.now() - t0),
      artifacts: images.artifacts,
      lambdas,
      steps: [...engine.timings.steps],
    };
  } finally {
    // As before one engine: the build log counts builds with images.
    if (!opts.engine) await engine.close({ log: targets.length > 0 });
  }
}
