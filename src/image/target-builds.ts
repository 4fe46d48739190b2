import type { ImageTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import type { Compression } from "../oci/compress.ts";
import { baseResolver } from "./base.ts";
import type { RegistryAccess } from "./registry-sink.ts";
import { type BaseResolver, buildTargetImage, type TargetImage } from "./target-image.ts";

export interface TargetBuilds {
  /** The target's image, built at most once per `TargetBuilds`; its `tug://` base is built first. */
  image(target: ImageTarget): Promise<TargetImage>;
  /** Resolves when every build started so far has settled (none may outlive the engine). */
  settled(): Promise<void>;
  /** For a caller assembling an image itself (tug dev): bases by reference or `tug://`. */
  resolveBase: BaseResolver;
}

/**
 * Builds image targets as a graph: every target starts at once, a target waits only for the
 * target it is built on (`base: tug://NAME`), and the engine's CPU pool bounds the real work,
 * so independent targets build in parallel. The base image is handed over in-process: its
 * layers are already in the cache, nothing is pushed or pulled.
 */
export function targetBuilds(o: {
  engine: Engine;
  registry: RegistryAccess;
  offline: boolean;
  /** Every image target of the project: the names `tug://` bases refer to. */
  targets: readonly ImageTarget[];
  compression: (target: ImageTarget) => Compression;
  annotations: Record<string, string>;
}): TargetBuilds {
  const byName = new Map(o.targets.map((t) => [t.name, t]));
  const builds = new Map<string, Promise<TargetImage>>();
  const image = (target: ImageTarget): Promise<TargetImage> => {
    let p = builds.get(target.name);
    if (!p) {
      p = buildTargetImage({
        engine: o.engine,
        target,
        compression: o.compression(target),
        resolveBase,
        annotations: o.annotations,
        isBase: o.targets.some((t) => t.base.kind === "target" && t.base.name === target.name),
      });
      // Reported by whoever awaits it; a base no dependent reached must not be "unhandled".
      p.catch(() => {});
      builds.set(target.name, p);
    }
    return p;
  };
  const resolveBase = baseResolver({
    engine: o.engine,
    registry: o.registry,
    offline: o.offline,
    targetImage: async (name) => {
      const base = byName.get(name);
      // loadProject refuses unknown names; an API caller's project may still hold one.
      if (!base) throw new Error(`base tug://${name}: no such image target`);
      return (await image(base)).artifact;
    },
  });
  return {
    image,
    resolveBase,
    async settled() {
      // Builds may start others (their bases) while we wait: loop until the set is stable.
      for (let n = -1; n !== builds.size; ) {
        n = builds.size;
        await Promise.allSettled([...builds.values()]);
      }
    },
  };
}
