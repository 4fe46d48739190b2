import { entriesUnder } from "../builders/builder.ts";
import { ignoreSettings } from "../builders/index.ts";
import type { ExtraLayer, ImageTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import type { LayerRecipe } from "../engine/layer-action.ts";
import { type SourceFile, scanTree } from "../engine/source-tree.ts";
import { TugError } from "../errors.ts";
import type { LayerEntry } from "../oci/tar.ts";

/** ko's kodata directory: a layer placed there also sets this variable, as ko does. */
export const KO_DATA_PATH = "/var/run/ko";

/** `KO_DATA_PATH` when a layer lands at ko's kodata path (the user's `env:` still wins). */
export function extraLayerEnv(target: ImageTarget): Record<string, string> {
  return (target.layers ?? []).some((l) => l.to === KO_DATA_PATH) ? { KO_DATA_PATH } : {};
}

/**
 * One cached layer per `layers:` entry, platform-independent: planned once per target. The
 * context is walked only along `from` (its ignore files apply, nested .gitignore included),
 * so a big context costs nothing beyond the files the layer holds.
 */
export async function extraLayerRecipes(engine: Engine, target: ImageTarget): Promise<LayerRecipe[]> {
  return Promise.all((target.layers ?? []).map((layer, i) => extraLayerRecipe(engine, target, layer, i)));
}

async function extraLayerRecipe(
  engine: Engine,
  target: ImageTarget,
  layer: ExtraLayer,
  index: number,
): Promise<LayerRecipe> {
  const { from, to } = layer;
  const onPath = (rel: string) => rel === from || rel.startsWith(`${from}/`) || from.startsWith(`${rel}/`);
  const tree = await scanTree(target.context, {
    skipDirs: engine.outputDirs,
    statCache: engine.statCache,
    where: target.where,
    ignoreFiles: ignoreSettings(target),
    ...(from === "" ? {} : { ignore: (rel: string) => !onPath(rel) }),
  });
  const where = `${target.where} layers[${index}]`;
  const top = from === "" ? undefined : tree.files.find((f) => f.path === from);
  if (from !== "" && !top) {
    throw new TugError({
      what: `layers[${index}].from ${from} is excluded by the context's ignore files (or was removed)`,
      where,
      hint: `\`tug explain ${target.name} --path ${from}\` names the rule; add an exception (!${from}) or drop the layer`,
    });
  }
  if (top?.type === "symlink") {
    throw new TugError({
      what: `layers[${index}].from ${from} is a symlink`,
      where,
      hint: `point from at the directory or file it links to (${top.linkname})`,
    });
  }
  let files: SourceFile[];
  let entries: LayerEntry[];
  if (top?.type === "file") {
    if (to === "/")
      throw new TugError({
        what: `layers[${index}]: the file ${from} cannot be copied to /`,
        where,
        hint: `name the file's path in the image, e.g. to: /${from.split("/").pop()}`,
      });
    files = [{ ...top, path: "" }];
    entries = [
      {
        path: to.slice(1),
        type: "file",
        mode: top.executable ? 0o755 : 0o644,
        size: top.size,
        source: top.abs,
      },
    ];
  } else {
    const prefix = from === "" ? "" : `${from}/`;
    files = tree.files
      .filter((f) => f.path.startsWith(prefix))
      .map((f) => ({ ...f, path: f.path.slice(prefix.length) }));
    // The directory itself, so an empty `from` still makes `to`.
    const self: LayerEntry[] = to === "/" ? [] : [{ path: to.slice(1), type: "dir", mode: 0o755 }];
    entries = [...self, ...entriesUnder(to, files)];
  }
  return {
    target: target.name,
    step: `layer ${to}`,
    kind: "extra-layer",
    version: 1,
    params: { to, file: top?.type === "file" },
    trees: { from: files },
    produce: async () => ({ entries }),
  };
}
