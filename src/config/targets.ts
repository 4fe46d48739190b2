import { isAbsolute, relative, resolve } from "node:path";
import { parseBase } from "./base.ts";
import { hostPlatform } from "./platform.ts";
import type { RawImageTarget } from "./schema.ts";
import type { Compression, ImageTarget, Platform, TargetCommon } from "./types.ts";

function parsePlatform(s: string): Platform {
  const [os = "", architecture = "", variant] = s.split("/");
  return variant ? { os, architecture, variant } : { os, architecture };
}

function strings(m: Record<string, string | number | boolean> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, String(v)]));
}

/** Undefined (plain `gzip` or nothing) lets the build pick the level for its destination. */
function compression(c: RawImageTarget["compression"]): Compression | undefined {
  if (c === undefined || c === "gzip") return undefined;
  if (c === "none") return { kind: "none" };
  return { kind: "gzip", level: c.gzip };
}

/** Normalises a validated target: absolute host paths, parsed base and platforms, defaults. */
export function toImageTarget(name: string, raw: RawImageTarget, dir: string, where: string): ImageTarget {
  const context = resolve(dir, raw.context);
  const common: TargetCommon = {
    name,
    where,
    context,
    base: parseBase(raw.base, dir),
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
  };
  switch (raw.builder) {
    case "go":
      return {
        ...common,
        builder: "go",
        main: raw.main,
        ldflags:
          raw.ldflags === undefined ? [] : typeof raw.ldflags === "string" ? [raw.ldflags] : raw.ldflags,
        binary: raw.name ?? name,
      };
    case "node":
      return {
        ...common,
        builder: "node",
        entry: relative(context, resolve(context, raw.entry)).split("\\").join("/"),
        external: raw.external,
        node: String(raw.node),
      };
    case "files":
      return { ...common, builder: "files", dest: raw.dest };
    case "command":
      return {
        ...common,
        builder: "command",
        run: typeof raw.run === "string" ? ["sh", "-c", raw.run] : raw.run,
        output: isAbsolute(raw.output) ? raw.output : resolve(context, raw.output),
        dest: raw.dest,
        inputs: raw.inputs,
      };
  }
}
