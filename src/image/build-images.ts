// The image half of `build`: loaded only when a build has image targets, so a lambda-only build
// does not parse the engine, tar writer and registry client.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { hostPlatform } from "../config/platform.ts";
import { buildOrder } from "../config/target-graph.ts";
import type { ImageTarget, Project } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { TugError } from "../errors.ts";
import { isCorruptBlob } from "../oci/corrupt-blob.ts";
import { hexOf } from "../oci/digest.ts";
import { parseReference } from "../oci/reference.ts";
import { platformString } from "../oci/types.ts";
import type { ProvenanceContext } from "../sbom/image-provenance.ts";
import { allSettledOrThrow } from "../util/settle.ts";
import { type ArtifactReport, type BuildOptions, defaultCompression } from "./build.ts";
import { gitInfo } from "./git-info.ts";
import { type RegistryAccess, registryAccess, registrySink } from "./registry-sink.ts";
import { layoutSboms, registrySboms } from "./sbom-sinks.ts";
import { registrySignatures } from "./sign-sink.ts";
import { fanOut, layoutSink, type Published, type Sink, tarballSink } from "./sinks.ts";
import { type TargetBuilds, targetBuilds } from "./target-builds.ts";
import type { TargetImage } from "./target-image.ts";

/** Builds the image targets (their bases first) and publishes each to the registry and/or local outputs. */
export async function buildImages(
  project: Project,
  targets: ImageTarget[],
  opts: BuildOptions,
  /** The build's one engine (build.ts opens and closes it). */
  engine: Engine,
): Promise<{ artifacts: ArtifactReport[] }> {
  const registry = opts.registry ?? registryAccess({ insecureRegistries: opts.insecureRegistries });
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
    return { artifacts };
  } finally {
    // A base target no failing dependent waited for may still be running.
    await Promise.all(builds.map((b) => b.settled()));
    if (!opts.registry) await registry.close();
  }
}

function sinkFor(project: Project, opts: BuildOptions, engine: Engine, registry: RegistryAccess): Sink {
  const sinks: Sink[] = [];
  const sbom = opts.sbom ?? "spdx";
  const attach = { format: sbom, engine, provenance: provenanceContext(project, opts) };
  if (opts.signKey && !opts.repo) {
    throw new TugError({
      what: `--sign-key ${opts.signKey.path} without a repository: signatures are stored in a registry`,
      hint: "push with --repo (or TUG_REPO, tug.yaml repo:), or drop --sign-key",
    });
  }
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
    const pushed = registrySink(registry, engine, {
      repo: opts.repo,
      mountFrom,
      trustPushed: opts.trustPushed,
    });
    const attached = registrySboms(pushed, registry, opts.repo, attach);
    sinks.push(registrySignatures(attached, registry, opts.repo, { key: opts.signKey, engine }));
  }
  const out = outDir(project, opts);
  if (out) {
    const layout = join(out, "oci");
    sinks.push(layoutSboms(layoutSink(layout, engine.store.root), layout, attach));
    sinks.push(tarballSink(out, hostPlatform(), opts.repo));
  }
  return sinks.length === 1 ? sinks[0]! : fanOut(sinks);
}

function provenanceContext(project: Project, opts: BuildOptions): ProvenanceContext | undefined {
  if (!opts.provenance) return undefined;
  let git: ReturnType<typeof gitInfo> | undefined;
  return { project, started: new Date(), git: () => (git ??= gitInfo(project.dir)) };
}

function outDir(project: Project, opts: BuildOptions): string | undefined {
  return opts.out ?? (opts.repo ? undefined : join(project.dir, ".tug", "out"));
}
