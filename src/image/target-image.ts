import { builderFor } from "../builders/index.ts";
import type { ImageTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { cachedLayer, type LayerRecipe } from "../engine/layer-action.ts";
import type { Compression } from "../oci/compress.ts";
import type { Digest } from "../oci/digest.ts";
import {
  appendLayers,
  asOci,
  indexFrom,
  withAnnotations,
  withConfig,
  withCreated,
  withoutAnnotations,
} from "../oci/image.ts";
import { sourceDateEpoch } from "../oci/tar.ts";
import { type Artifact, type Image, type Platform, platformString } from "../oci/types.ts";
import { allSettledOrThrow } from "../util/settle.ts";
import { recordBaseUse, rememberBuiltConfig } from "./base-target.ts";
import { checkEntrypoint } from "./entrypoint-check.ts";
import { extraLayerEnv, extraLayerRecipes } from "./extra-layers.ts";

export interface ResolvedBase {
  image: Image;
  /** For the org.opencontainers.image.base.* annotations; undefined for scratch. */
  name?: string;
  digest?: Digest;
  /** Set for `base: tug://NAME`: the image is that target's, built in this run. */
  target?: string;
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
  /** Another target is built on this one: remember its config for that one's `tug explain`. */
  isBase?: boolean;
  /** Layers appended after the builder's (the dev loop's supervisor). */
  extraLayers?: (platform: Platform) => LayerRecipe[];
}): Promise<TargetImage> {
  const { engine, target, compression } = opts;
  let cached = true;
  // `layers:` do not depend on the platform: scanned once, shared by every platform's image.
  const extra = extraLayerRecipes(engine, target);
  extra.catch(() => {});
  const perPlatform = await allSettledOrThrow(
    target.platforms.map(async (platform) => {
      const resolvedBase = opts.resolveBase(target, platform);
      const [base, plan, userLayers] = await Promise.all([
        resolvedBase,
        builderFor(target).plan({ engine, target, platform, base: () => resolvedBase.then((b) => b.image) }),
        extra,
      ]);
      const recipes = [...plan.layers, ...userLayers, ...(opts.extraLayers?.(platform) ?? [])];
      const layers = await Promise.all(recipes.map((r) => cachedLayer(engine, r, compression)));
      if (layers.some((l) => !l.cached)) cached = false;
      // Built on another target: its manifest annotations (title, its own base) are not ours.
      const baseImage = base.target === undefined ? base.image : withoutAnnotations(base.image);
      let image = appendLayers(
        asOci(baseImage),
        layers.map((l) => l.layer),
        `tug ${target.builder} builder`,
      );
      image = withConfig(image, {
        env: { ...plan.config.env, ...extraLayerEnv(target), ...target.env },
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
      if (base.target !== undefined) {
        const config = (await base.image.manifest()).config.digest;
        if (await recordBaseUse(engine, target.name, platform, { target: base.target, config }))
          cached = false;
      }
      if (opts.isBase)
        await rememberBuiltConfig(engine, target.name, platform, (await image.manifest()).config.digest);
      return { image, platform };
    }),
  );
  if (perPlatform.length === 1) return { artifact: perPlatform[0]!.image, cached };
  return { artifact: indexFrom(perPlatform, { ...opts.annotations, ...target.annotations }), cached };
}
