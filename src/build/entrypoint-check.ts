import type { ImageTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { TugError } from "../errors.ts";
import {
  canListLayer,
  findExecutable,
  type LayerFileTable,
  mergeFileTables,
  readLayerFileTable,
} from "../oci/file-table.ts";
import { type Image, type Platform, platformString } from "../oci/types.ts";

const RECORD_KIND = "layer-files";

function isStringRecord(v: unknown, value: (x: unknown) => boolean): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every(value);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

// Records may come from a shared cache: a table of the wrong shape is a miss, never trusted.
function isFileTable(v: unknown): v is LayerFileTable {
  if (typeof v !== "object" || v === null) return false;
  const t = v as Record<string, unknown>;
  return (
    isStringRecord(t.files, (x) => typeof x === "number") &&
    isStringRecord(t.symlinks, (x) => typeof x === "string") &&
    isStringRecord(t.hardlinks, (x) => typeof x === "string") &&
    isStringArray(t.dirs) &&
    isStringArray(t.whiteouts) &&
    isStringArray(t.opaque)
  );
}

/**
 * The image's file tables, one per layer, from the cache by diff_id: a base layer or an unchanged
 * app layer is listed once per machine (or shared cache), never again on a warm build.
 */
async function fileTables(
  engine: Engine,
  image: Image,
  where: string,
): Promise<{ tables: LayerFileTable[]; listed: number }> {
  const [layers, config] = await Promise.all([image.layers(), image.config()]);
  let listed = 0;
  const tables = await Promise.all(
    layers.map(async (layer, i) => {
      const diffId = config.rootfs.diff_ids[i] ?? (await layer.diffId());
      const known = await engine.store.getRecord(RECORD_KIND, diffId, isFileTable);
      if (known) return known;
      if (!canListLayer(layer.mediaType())) {
        throw new TugError({
          what: `image ${where} cannot be checked: tug cannot read layers of type ${layer.mediaType()}`,
          hint: "use a base with gzip layers, or set entrypoint_check: false on this image",
        });
      }
      const table = await engine.io.run(() => readLayerFileTable(layer, where));
      await engine.store.putRecord(RECORD_KIND, diffId, table);
      listed++;
      return table;
    }),
  );
  return { tables, listed };
}

function envPath(env: string[] | undefined): string | undefined {
  const entry = (env ?? []).filter((e) => e.startsWith("PATH=")).pop();
  return entry?.slice("PATH=".length);
}

/**
 * Refuses an image whose entrypoint cannot start: its executable (Entrypoint[0], else Cmd[0])
 * must resolve, through PATH and symlinks, to an executable file of the image's filesystem.
 * An image with neither Entrypoint nor Cmd is not checked: it is data (a `base: tug://` stage,
 * a volume image) or gets its command from the runtime.
 */
export async function checkEntrypoint(o: {
  engine: Engine;
  target: ImageTarget;
  image: Image;
  platform: Platform;
}): Promise<{ listedLayers: number }> {
  const { target, image } = o;
  if (target.entrypointCheck === false) return { listedLayers: 0 };
  const cfg = (await image.config()).config;
  const argv0 = cfg.Entrypoint?.[0] ?? cfg.Cmd?.[0];
  if (argv0 === undefined) return { listedLayers: 0 };
  const where = `${target.where}, ${platformString(o.platform)}`;
  const { tables, listed } = await fileTables(o.engine, image, where);
  const fs = mergeFileTables(tables);
  const { resolution, tried } = findExecutable(fs, argv0, {
    path: envPath(cfg.Env),
    workdir: cfg.WorkingDir,
  });
  if ("found" in resolution) return { listedLayers: listed };
  const role = cfg.Entrypoint?.[0] !== undefined ? "entrypoint" : "cmd";
  const reason = {
    "not-found": "not found in the image",
    "not-executable": `is not executable (${resolution.path})`,
    "symlink-loop": `is a symlink loop (${resolution.path})`,
    directory: `is a directory (${resolution.path})`,
  }[resolution.missing];
  const looked = argv0.includes("/")
    ? ""
    : ` (looked in ${tried.map((p) => p.slice(0, -argv0.length - 1)).join(", ")})`;
  throw new TugError({
    what: `image ${target.name} cannot start: ${argv0} ${reason}${looked}`,
    where,
    hint: `${baseHint(target, argv0)}; if ${argv0} is provided at run time (a volume), set entrypoint_check: false (${role}: ${JSON.stringify([argv0])})`,
  });
}

function baseHint(target: ImageTarget, argv0: string): string {
  const base = target.base.kind === "scratch" ? "scratch" : "the base";
  if (target.builder === "node")
    return `${base} has no node on PATH: pick a base with node, e.g. base: docker.io/library/node:${target.node}-slim or cgr.dev/chainguard/node (or your registry's copy), or base: host:node to use this machine's node`;
  if (target.builder === "python")
    return `${base} has no ${argv0}: pick a base with CPython ${target.python.join(".")}, e.g. base: docker.io/library/python:${target.python.join(".")}-slim (or your registry's copy)`;
  return `${base} has no ${argv0}: pick a base that has it, or fix entrypoint/cmd`;
}
