// The image half of `build`: loaded only when a build has image targets, so a lambda-only build
// does not parse the engine, tar writer and registry client. Where images go is not decided here:
// the outputs (sinks, compression, mount-from) come ready-made from output-policy.ts.
import { buildOrder } from "../config/target-graph.ts";
import type { ImageTarget, Project } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { isCorruptBlob } from "../oci/corrupt-blob.ts";
import { platformString } from "../oci/types.ts";
import { allSettledOrThrow } from "../util/settle.ts";
import type { ArtifactReport, BuildOptions } from "./build.ts";
import { gitInfo } from "./git-info.ts";
import { imageOutputs } from "./output-policy.ts";
import { registryAccess } from "./registry-sink.ts";
import type { Published } from "./sinks.ts";
import { type TargetBuilds, targetBuilds } from "./target-builds.ts";
import type { TargetImage } from "./target-image.ts";

/** Builds the image targets (their bases first) and publishes each to the build's outputs. */
export async function buildImages(
  project: Project,
  targets: ImageTarget[],
  opts: BuildOptions,
  /** The build's one engine (build.ts opens and closes it). */
  engine: Engine,
): Promise<{ artifacts: ArtifactReport[] }> {
  const registry = opts.registry ?? registryAccess({ insecureRegistries: opts.insecureRegistries });
  const outputs = opts.outputs ?? imageOutputs(project, opts);
  const builds: TargetBuilds[] = [];
  try {
    const git = await gitInfo(project.dir);
    const annotations: Record<string, string> = {};
    if (git.source) annotations["org.opencontainers.image.source"] = git.source;
    if (git.revision) annotations["org.opencontainers.image.revision"] = git.revision;
    const sink = await outputs.open({ engine, registry });
    const graph = (): TargetBuilds =>
      targetBuilds({
        engine,
        registry,
        offline: opts.offline ?? false,
        targets: project.targets,
        compression: outputs.compression,
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
          // A cache blob that fails its digest is dropped, and any sink's copy of it; the retry
          // rebuilds it.
          if (!isCorruptBlob(e)) throw e;
          await engine.store.dropBlob(e.digest);
          await sink.dropBlob?.(e.digest);
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
    return { artifacts };
  } finally {
    // A base target no failing dependent waited for may still be running.
    await Promise.all(builds.map((b) => b.settled()));
    if (!opts.registry) await registry.close();
  }
}
