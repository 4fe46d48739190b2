import { join } from "node:path";
import { baseResolver } from "../build/base.ts";
import { registryAccess } from "../build/registry-sink.ts";
import { layoutSink } from "../build/sinks.ts";
import { buildTargetImage } from "../build/target-image.ts";
import { builderFor } from "../builders/index.ts";
import type { ImageTarget, Project } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import type { LayerRecipe } from "../engine/layer-action.ts";
import type { Image, Platform } from "../oci/types.ts";
import type { Deployer } from "./session.ts";
import { planExternals } from "./stage.ts";
import { supervisorLayerRecipe } from "./supervisor.ts";

/**
 * Deploys a dev image: the target's image plus tug's supervisor layer, uncompressed (a local
 * runtime reads it straight away; gzip would only cost time), written to `.tug/dev/oci`.
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
  const resolveBase = baseResolver({ engine, registry, offline: false });
  return {
    async deploy() {
      const supervisor: LayerRecipe = await supervisorLayerRecipe(engine, platform);
      const single = { ...target, platforms: [platform] };
      const { artifact } = await buildTargetImage({
        engine,
        target: single,
        compression: { kind: "none" },
        resolveBase,
        annotations: {},
        extraLayers: () => [supervisor],
      });
      const published = await sink.publish(artifact, target.name, ["dev"]);
      const config = await (artifact as Image).config();
      const c = config.config;
      return {
        spec: {
          argv: [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])],
          env: Object.fromEntries(
            (c.Env ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
          ),
          ...(c.WorkingDir ? { workdir: c.WorkingDir } : {}),
          image: { layout, name: target.name, digest: published.digest },
        },
        externals: planExternals(await builderFor(single).plan({ engine, target: single, platform })),
      };
    },
  };
}
