import { builderFor } from "../builders/index.ts";
import type { ImageTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { cachedLayer, type LayerRecipe } from "../engine/layer-action.ts";
import { allSettledOrThrow } from "../engine/settle.ts";
import type { Compression } from "../oci/compress.ts";
import type { Digest } from "../oci/digest.ts";
import { appendLayers, asOci, indexFrom, withAnnotations, withConfig, withCreated } from "../oci/image.ts";
import { sourceDateEpoch } from "../oci/tar.ts";
import { type Artifact, type Image, type Platform, platformString } from "../oci/types.ts";
import { checkEntrypoint } from "./entrypoint-check.ts";

export interface ResolvedBase {
  image: Image;
  /** For the org.opencontainers.image.base.* annotations; undefined for scratch. */
  name?: string;
  digest?: Digest;
}

export type BaseResolver = (target: ImageTarget, platform: Platform) => Promise<ResolvedBase>;

export interface TargetImage {
  artifact: Artifact;
  /** True when every layer came from the cache. */
  cached: boolean;
}

/** created: SOURCE_DATE_EPOCH, else the epoch, so the config never carries the build's time. */
function createdTime(): string {
  return new Date(sourceDateEpoch() * 1000).toISOString().replace(".000Z", "Z");
}

/** Builds one target for each of its platforms; several platforms make an OCI image index. */
export async function buildTargetImage(opts: {
  engine: Engine;
  target: ImageTarget;
  compression: Compression;
  resolveBase: BaseResolver;
  annotations: Record<string, string>;
  /** Layers appended after the builder's (the dev loop's supervisor). */
  extraLayers?: (platform: Platform) => LayerRecipe[];
}): Promise<TargetImage> {
  const { engine, target, compression } = opts;
  let cached = true;
  const perPlatform = await allSettledOrThrow(
    target.platforms.map(async (platform) => {
      const [base, plan] = await Promise.all([
        opts.resolveBase(target, platform),
        builderFor(target).plan({ engine, target, platform }),
      ]);
      const recipes = [...plan.layers, ...(opts.extraLayers?.(platform) ?? [])];
      const layers = await Promise.all(recipes.map((r) => cachedLayer(engine, r, compression)));
      if (layers.some((l) => !l.cached)) cached = false;
      let image = appendLayers(
        asOci(base.image),
        layers.map((l) => l.layer),
        `tug ${target.builder} builder`,
      );
      image = withConfig(image, {
        env: { ...plan.config.env, ...target.env },
        entrypoint: target.entrypoint ?? plan.config.entrypoint,
        ...(target.cmd ? { cmd: target.cmd } : plan.config.cmd ? { cmd: plan.config.cmd } : {}),
        workdir: target.workdir ?? plan.config.workdir,
        user: target.user,
        exposedPorts: target.ports,
        labels: target.labels,
      });
      image = withCreated(image, createdTime());
      // Cached: every layer's file table came from the cache, no layer was read.
      await engine.timings.step(target.name, `entrypoint check ${platformString(platform)}`, async () => {
        const { listedLayers } = await checkEntrypoint({ engine, target, image, platform });
        return { value: listedLayers, cached: listedLayers === 0 };
      });
      const annotations: Record<string, string> = {
        ...opts.annotations,
        "org.opencontainers.image.title": target.name,
      };
      if (base.name) annotations["org.opencontainers.image.base.name"] = base.name;
      if (base.digest) annotations["org.opencontainers.image.base.digest"] = base.digest;
      image = withAnnotations(image, { ...annotations, ...target.annotations });
      return { image, platform };
    }),
  );
  if (perPlatform.length === 1) return { artifact: perPlatform[0]!.image, cached };
  return { artifact: indexFrom(perPlatform, { ...opts.annotations, ...target.annotations }), cached };
}
