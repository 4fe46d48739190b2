import { existsSync } from "node:fs";
import { isAbsolute, posix, relative, resolve } from "node:path";
import { COMMAND_IGNORE, DEFAULT_IGNORE, type IgnoreSettings } from "../engine/ignore-rules.ts";
import { defaultBase, parseBase } from "./base.ts";
import { hostPlatform } from "./platform.ts";
import type { RawImageTarget } from "./schema.ts";
import type { Compression, DevConfig, ImageTarget, Platform, TargetCommon } from "./types.ts";

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

/** The ignore settings a target's context is read with (loadProject always sets them). */
export function ignoreSettings(target: ImageTarget): IgnoreSettings {
  return target.ignore ?? (target.builder === "command" ? COMMAND_IGNORE : DEFAULT_IGNORE);
}

/** Normalises a validated target: absolute host paths, parsed base and platforms, defaults. */
export function toImageTarget(name: string, raw: RawImageTarget, dir: string, where: string): ImageTarget {
  const context = resolve(dir, raw.context);
  const common: TargetCommon = {
    name,
    where,
    context,
    base: parseBase(raw.base ?? defaultBase(raw.builder), dir),
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
    // A command reads the context on the host, .env.local or node_modules included: with git's
    // rules its key would miss files it reads, so .gitignore applies to it only on request.
    ignore: { git: raw.ignore?.git ?? raw.builder !== "command", patterns: raw.ignore?.patterns ?? [] },
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
  switch (raw.builder) {
    case "go":
      return {
        ...common,
        builder: "go",
        main: raw.main,
        ldflags:
          raw.ldflags === undefined ? [] : typeof raw.ldflags === "string" ? [raw.ldflags] : raw.ldflags,
        binary: raw.name ?? name,
        flags: raw.flags ?? [],
        buildTags: raw.build_tags ?? [],
        buildEnv: strings(raw.build_env),
      };
    case "node":
      return {
        ...common,
        builder: "node",
        entry: relative(context, resolve(context, raw.entry)).split("\\").join("/"),
        external: raw.external,
        node: String(raw.node),
        bundle: raw.bundle,
      };
    case "files":
      return { ...common, builder: "files", dest: raw.dest };
    case "python": {
      const [major, minor, patch] = (raw.python_version?.split(".").map(Number) ?? []) as [
        number?,
        number?,
        number?,
      ];
      const requirements = raw.requirements ?? "requirements.txt";
      return {
        ...common,
        builder: "python",
        // The default file is optional (a service without dependencies); a named one must exist.
        ...(raw.requirements !== undefined || existsSync(resolve(context, requirements))
          ? { requirements: resolve(context, requirements) }
          : {}),
        ...(raw.module !== undefined ? { module: raw.module } : {}),
        ...(raw.command !== undefined ? { command: raw.command } : {}),
        ...(major !== undefined && minor !== undefined ? { python: [major, minor] as const } : {}),
        ...(patch !== undefined ? { pythonFullVersion: `${major}.${minor}.${patch}` } : {}),
        ...(raw.glibc !== undefined ? { glibc: raw.glibc } : {}),
        sourceRoots: raw.source_roots.map((r) => resolve(context, r)),
        ...(raw.index_url !== undefined ? { indexUrl: raw.index_url } : {}),
        extraIndexUrls: raw.extra_index_urls,
      };
    }
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
