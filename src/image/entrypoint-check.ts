import { builderFor } from "../builders/index.ts";
import type { ImageTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { imageFileTables } from "../engine/image-files.ts";
import { TugError } from "../errors.ts";
import { findExecutable, mergeFileTables } from "../oci/file-table.ts";
import { type Image, type Platform, platformString } from "../oci/types.ts";

export function envPath(env: string[] | undefined): string | undefined {
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
  const { tables, listed } = await imageFileTables(o.engine, image, where);
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
  return (
    builderFor(target).missingExecutableHint?.(target, argv0, base) ??
    `${base} has no ${argv0}: pick a base that has it, or fix entrypoint/cmd`
  );
}
