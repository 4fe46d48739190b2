import { join } from "node:path";
import { builderFor } from "../builders/index.ts";
import type { ImageTarget, Project } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { type RegistryAccess, registryAccess } from "../image/registry-sink.ts";
import { layoutSink } from "../image/sinks.ts";
import { targetBuilds } from "../image/target-builds.ts";
import { buildTargetImage } from "../image/target-image.ts";
import type { Compression } from "../oci/compress.ts";
import type { Image, Platform } from "../oci/types.ts";
import type { RunSpec } from "./runtime.ts";
import type { Deployer } from "./session.ts";
import { planExternals } from "./stage.ts";
import { supervisorLayerRecipe } from "./supervisor.ts";

export interface DevImage {
  image: Image;
  /** The process settings of its config, for the supervisor to run. */
  spec: Pick<RunSpec, "argv" | "env" | "workdir">;
  externals: string[];
}

/** The target's image for one platform plus tug's supervisor layer (dev images only). */
export async function buildDevImage(o: {
  engine: Engine;
  target: ImageTarget;
  platform: Platform;
  registry: RegistryAccess;
  compression: Compression;
  /** The project's image targets, for a `base: tug://NAME` (built here too, without supervisor). */
  targets?: readonly ImageTarget[];
}): Promise<DevImage> {
  const single = { ...o.target, platforms: [o.platform] };
  const supervisor = await supervisorLayerRecipe(o.engine, o.platform);
  // Each deploy re-plans the base targets too: an edit to a base's inputs is picked up by the
  // next rebuild of this target (a cache hit otherwise), though only this context is watched.
  const bases = targetBuilds({
    engine: o.engine,
    registry: o.registry,
    offline: false,
    targets: (o.targets ?? []).map((t) => (t.name === o.target.name ? t : { ...t, platforms: [o.platform] })),
    compression: () => o.compression,
    annotations: {},
  });
  const [{ artifact }, plan] = await Promise.all([
    buildTargetImage({
      engine: o.engine,
      target: single,
      compression: o.compression,
      resolveBase: bases.resolveBase,
      annotations: {},
      extraLayers: () => [supervisor],
    }),
    builderFor(single).plan({
      engine: o.engine,
      target: single,
      platform: o.platform,
      base: () => bases.resolveBase(single, o.platform).then((b) => b.image),
    }),
  ]).finally(() => bases.settled());
  const image = artifact as Image;
  const c = (await image.config()).config;
  const env = Object.fromEntries(
    (c.Env ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  return {
    image,
    spec: {
      argv: [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])],
      env,
      ...(c.WorkingDir ? { workdir: c.WorkingDir } : {}),
    },
    externals: planExternals(plan),
  };
}

/**
 * podman/docker: the dev image, uncompressed (the runtime reads it at once; gzip would only
 * cost time), in the OCI layout `.tug/dev/oci` under ref.name = the target's name.
 */
export function devImageDeployer(
  engine: Engine,
  target: ImageTarget,
  project: Project,
  platform: Platform,
): Deployer {
  const layout = join(project.dir, ".tug", "dev", "oci");
  const sink = layoutSink(layout, engine.store.root);
  const registry = registryAccess();
  return {
    async deploy() {
      const dev = await buildDevImage({
        engine,
        target,
        platform,
        registry,
        compression: { kind: "none" },
        targets: project.targets,
      });
      const published = await sink.publish(dev.image, target.name, ["dev"]);
      return {
        spec: { ...dev.spec, image: { layout, name: target.name, digest: published.digest } },
        externals: dev.externals,
      };
    },
  };
}
