import { posix } from "node:path";
import { builderFor } from "../builders/index.ts";
import type { ImageTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { imageFileTables, layerElf } from "../engine/image-files.ts";
import { TugError } from "../errors.ts";
import { findExecutable, mergeFileTables, resolveInImage } from "../oci/file-table.ts";
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
  if ("found" in resolution) {
    await checkSharedLibraries(o.engine, target, image, fs, where);
    return { listedLayers: listed };
  }
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

/**
 * Refuses an image in which an ELF file tug put there (a wheel's extension module, say) needs a
 * shared library that exists nowhere in the image: importing it fails at run time ("libGL.so.1:
 * cannot open shared object file"). A library present somewhere is accepted, wherever it is: the
 * base's ld.so.conf may name its directory, or another module may have loaded it already, and
 * tug refuses only what it is sure of.
 */
async function checkSharedLibraries(
  engine: Engine,
  target: ImageTarget,
  image: Image,
  fs: ReturnType<typeof mergeFileTables>,
  where: string,
): Promise<void> {
  const config = await image.config();
  const elf = (await Promise.all(config.rootfs.diff_ids.map((d) => layerElf(engine, d)))).flat();
  if (elf.length === 0) return;
  const names = new Set<string>();
  for (const [p, e] of fs) if (e.kind !== "dir") names.add(posix.basename(p));
  for (const [path, needed] of elf) {
    if (!fs.has(`/${path}`)) continue; // removed by a later layer
    for (const lib of needed) {
      const present = lib.includes("/") ? libraryAt(fs, lib) : names.has(lib);
      if (present) continue;
      throw new TugError({
        what: `image ${target.name} cannot load /${path}: it needs ${lib}, which is nowhere in the image`,
        where,
        hint: `${builderFor(target).missingLibraryHint?.(target, lib, path) ?? `use a base that has ${lib}`}; if it is provided at run time (a volume), set entrypoint_check: false`,
      });
    }
  }
}

/** A library named by path: a file there, executable or not. */
function libraryAt(fs: ReturnType<typeof mergeFileTables>, path: string): boolean {
  const r = resolveInImage(fs, path);
  return "found" in r || r.missing === "not-executable";
}

function baseHint(target: ImageTarget, argv0: string): string {
  const base = target.base.kind === "scratch" ? "scratch" : "the base";
  return (
    builderFor(target).missingExecutableHint?.(target, argv0, base) ??
    `${base} has no ${argv0}: pick a base that has it, or fix entrypoint/cmd`
  );
}
