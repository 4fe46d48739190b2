import type { ImageTarget } from "../config/types.ts";
import type { FileChange } from "../dev/runtime.ts";
import type { Engine } from "../engine/engine.ts";
import type { IgnoreSettings } from "../engine/ignore-rules.ts";
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

/**
 * What `tug dev` asks a builder: which files are its dependencies, where a changed file goes in
 * the running image, which artifact it rebuilds in place, which directories outside the context
 * it reads. Kept beside the builder so the dev loop has no switch on builder names.
 */
export interface BuilderDev<T extends ImageTarget = ImageTarget> {
  /** Context-relative globs whose change means new dependencies: only a rebuild carries them. */
  dependencyFiles?(target: T): string[];
  /** The in-image path of a changed context file that no sync rule covers; undefined: none. */
  syncPath?(target: T, path: string): string | undefined;
  /** The artifact rebuilt on the host and swapped in for changes no sync covers (go, node, command). */
  artifact?(o: {
    engine: Engine;
    target: T;
    platform: Platform;
    externals: string[];
  }): Promise<DevArtifact | undefined>;
  /** A changed path that is no input at all (a command's own output). */
  ignoresChange?(target: T, path: string): boolean;
  /** Directories outside the context the build reads (Go modules reached by replace/go.work). */
  watchRoots?(target: T): Promise<string[]>;
}

/**
 * The dev loop's "rebuild locally with the warm cache and swap the artifact". `rebuild()`
 * returns the files to put into the running thing.
 */
export interface DevArtifact {
  rebuild(): Promise<FileChange[]>;
  dispose(): Promise<void>;
}

/** A builder turns a target into layer recipes; planning reads inputs but runs nothing. */
export interface Builder<T extends ImageTarget = ImageTarget> {
  plan(ctx: PlanContext): Promise<BuildPlan>;
  /**
   * Which context files are inputs when the target sets no `ignore` (loadProject always sets
   * it, from the same default in the builder's schema fragment; a hand-made target may not).
   * Default: DEFAULT_IGNORE.
   */
  defaultIgnore?: IgnoreSettings;
  dev?: BuilderDev<T>;
  /**
   * `tug explain --path`: why a context file the ignore files keep is still no input of this
   * builder (node_modules, a command's output); undefined when it is one. `rel` is
   * context-relative, '/'-separated.
   */
  excludes?(target: T, rel: string): string | undefined;
  /** The hint when the entrypoint's executable is missing; `base` is "scratch" or "the base". */
  missingExecutableHint?(target: T, argv0: string, base: string): string;
  /** The hint when a file the builder put in the image needs a shared library the image lacks. */
  missingLibraryHint?(target: T, library: string, path: string): string;
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
