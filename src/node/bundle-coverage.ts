import type { SourceFile } from "../engine/source-tree.ts";
import { TugError } from "../errors.ts";

/** esbuild's metafile, the part that lists what the bundle read. */
export interface BundleMetafile {
  inputs: Record<string, unknown>;
}

/**
 * The bundle's key covers the scanned context (minus ignored files and node_modules, for which
 * the lockfile stands). esbuild reads the disk, not the scan: a source it bundled that the key
 * does not cover (an imported file that .gitignore excludes, say generated code) would leave a
 * stale image cached after that file changes. Refuse instead, naming the file.
 */
export function uncoveredBundleInputs(metafile: BundleMetafile, files: SourceFile[]): string[] {
  const keyed = new Set(files.map((f) => f.path));
  return (
    Object.keys(metafile.inputs)
      .filter((p) => !p.includes(":")) // esbuild's virtual modules (`<stdin>`, `ns:path`)
      .map((p) => p.replace(/^\.\//, ""))
      // Files outside the context are a question of what a context is, not of ignore files.
      .filter((p) => !p.startsWith("../"))
      .filter((p) => !p.startsWith("node_modules/") && !p.includes("/node_modules/") && !keyed.has(p))
      .sort()
  );
}

export function uncoveredInputsError(paths: string[], where: string): TugError {
  const first = paths[0]!;
  return new TugError({
    what: `the bundle reads ${first}${paths.length > 1 ? ` (and ${paths.length - 1} more)` : ""}, which is not among the target's inputs`,
    where,
    hint: `\`tug explain\` with --path ${first} names the ignore rule that excludes it; re-include it in .tugignore (!${first}) or set ignore: {git: false}`,
  });
}
