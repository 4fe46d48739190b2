import type { ImageTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import type { LayerRecipe } from "../engine/layer-action.ts";
import type { SourceFile } from "../engine/source-tree.ts";
import type { LayerEntry } from "../oci/tar.ts";
import type { Image, Platform } from "../oci/types.ts";

/** What a builder adds to the image config; user settings in tug.yaml are applied after it. */
export interface ConfigDefaults {
  entrypoint?: string[];
  cmd?: string[];
  env?: Record<string, string>;
  workdir?: string;
}

/** A builder's plan for one platform: layer recipes (bottom first) and config defaults. */
export interface BuildPlan {
  layers: LayerRecipe[];
  config: ConfigDefaults;
}

export interface PlanContext {
  engine: Engine;
  target: ImageTarget;
  platform: Platform;
  /** The base image for this platform, for builders that must read it (python: its CPython). */
  base?: () => Promise<Image>;
}

/** A builder turns a target into layer recipes; planning reads inputs but runs nothing. */
export interface Builder {
  plan(ctx: PlanContext): Promise<BuildPlan>;
}

/** Maps scanned source files to layer entries under `dest` (an absolute in-image path). */
export function entriesUnder(dest: string, files: SourceFile[]): LayerEntry[] {
  const prefix = dest.replace(/^\/+|\/+$/g, "");
  const join = (p: string) => (prefix ? `${prefix}/${p}` : p);
  return files.map((f) => {
    if (f.type === "dir") return { path: join(f.path), type: "dir", mode: 0o755 };
    if (f.type === "symlink")
      return { path: join(f.path), type: "symlink", mode: 0o777, linkname: f.linkname };
    return {
      path: join(f.path),
      type: "file",
      mode: f.executable ? 0o755 : 0o644,
      size: f.size,
      source: f.abs,
    };
  });
}
