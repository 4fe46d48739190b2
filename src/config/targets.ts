import { posix, relative, resolve } from "node:path";
import type { BuilderName, BuilderSchema } from "../builders/builder-schema.ts";
import { BUILDER_SCHEMAS } from "../builders/schemas.ts";
import { DEFAULT_IGNORE } from "../engine/ignore-rules.ts";
import { parseBase } from "./base.ts";
import { stringsOf as strings } from "./image-fields.ts";
import { hostPlatform } from "./platform.ts";
import type { RawImageTarget } from "./schema.ts";
import type { Compression, DevConfig, ImageTarget, Platform, TargetCommon } from "./types.ts";

const FRAGMENTS = new Map<string, BuilderSchema>(
  BUILDER_SCHEMAS.map((b) => [b.name, b as unknown as BuilderSchema]),
);

/** The builder's tug.yaml fragment (src/builders/NAME-schema.ts): its defaults and normaliser. */
export function fragmentOf(builder: BuilderName): BuilderSchema {
  const fragment = FRAGMENTS.get(builder);
  // The schema admits only registered names: a miss is a bug, not bad input.
  if (!fragment) throw new Error(`builder ${builder} has no schema fragment`);
  return fragment;
}

function parsePlatform(s: string): Platform {
  const [os = "", architecture = "", variant] = s.split("/");
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** Undefined (plain `gzip` or nothing) lets the build pick the level for its destination. */
function compression(c: RawImageTarget["compression"]): Compression | undefined {
  if (c === undefined || c === "gzip") return undefined;
  if (c === "none") return { kind: "none" };
  return { kind: "gzip", level: c.gzip };
}

function devConfig(raw: NonNullable<RawImageTarget["dev"]>, dir: string): DevConfig {
  const steps = raw.live_update;
  const restartSteps = steps.flatMap((s) => ("restart" in s ? [s.restart] : []));
  return {
    runtime: raw.runtime,
    ...(raw.port !== undefined ? { port: raw.port } : {}),
    ...(raw.ready_log !== undefined ? { readyLog: raw.ready_log } : {}),
    fallBackOn: steps.flatMap((s) => ("fall_back_on" in s ? s.fall_back_on : [])),
    sync: steps.flatMap((s) => ("sync" in s ? [s.sync] : [])),
    run: steps.flatMap((s) => ("run" in s ? [s.run] : [])),
    restart: restartSteps.length === 0 ? true : restartSteps.every(Boolean),
    ...(raw.namespace !== undefined ? { namespace: raw.namespace } : {}),
    ...(raw.selector !== undefined ? { selector: raw.selector } : {}),
    manifests: (raw.manifests ?? []).map((m) => resolve(dir, m)),
  };
}

/** Normalises a validated target: absolute host paths, parsed base and platforms, defaults. */
export function toImageTarget(name: string, raw: RawImageTarget, dir: string, where: string): ImageTarget {
  const fragment = fragmentOf(raw.builder);
  const context = resolve(dir, raw.context);
  const common: TargetCommon = {
    name,
    where,
    context,
    base: parseBase(raw.base ?? fragment.defaultBase ?? "scratch", dir),
    platforms: raw.platforms ? raw.platforms.map(parsePlatform) : [hostPlatform()],
    env: strings(raw.env),
    ...(raw.entrypoint ? { entrypoint: raw.entrypoint } : {}),
    ...(raw.cmd ? { cmd: raw.cmd } : {}),
    ...(raw.workdir ? { workdir: raw.workdir } : {}),
    ...(raw.user !== undefined ? { user: String(raw.user) } : {}),
    ports: (raw.ports ?? []).map((p) => (typeof p === "number" || !p.includes("/") ? `${p}/tcp` : p)),
    labels: strings(raw.labels),
    annotations: strings(raw.annotations),
    ...(raw.compression === undefined || raw.compression === "gzip"
      ? {}
      : { compression: compression(raw.compression) }),
    tags: [...new Set(raw.tags)],
    // A builder may read git-ignored files (a command's .env.local): its fragment says so.
    ignore: {
      git: raw.ignore?.git ?? (fragment.defaultIgnore ?? DEFAULT_IGNORE).git,
      patterns: raw.ignore?.patterns ?? [],
    },
    ...(raw.layers?.length
      ? {
          layers: raw.layers.map((l) => ({
            from: relative(context, resolve(context, l.from)).split("\\").join("/"),
            to: posix.normalize(l.to).replace(/(.)\/+$/, "$1"),
          })),
        }
      : {}),
    ...(raw.dev ? { dev: devConfig(raw.dev, dir) } : {}),
    ...(raw.entrypoint_check === false ? { entrypointCheck: false } : {}),
  };
  return fragment.normalise(raw as never, common);
}
