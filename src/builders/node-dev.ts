import { posix, resolve } from "node:path";
import type { BuildContext } from "esbuild";
import type { NodeTarget } from "../config/types.ts";
import { bundleOutputFor, CODE_EXTENSIONS } from "../node/entry-module.ts";
import { esbuildApi } from "../node/esbuild-module.ts";
import type { BuilderDev } from "./builder.ts";
import { bundleOptions, bundleOutput, esbuildError } from "./node.ts";

/**
 * node under `tug dev`: lockfiles mean a rebuild; the context's files sit at their paths under
 * /app (all of them unbundled, the non-code ones beside a bundle); code changes re-bundle with
 * an incremental esbuild context and swap the bundle.
 */
export const nodeDev: BuilderDev<NodeTarget> = {
  dependencyFiles: () => [
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
  ],
  syncPath: (target, path) =>
    !target.bundle || !CODE_EXTENSIONS.has(posix.extname(path)) ? `/app/${path}` : undefined,
  // A bundle also reads files outside the context (`../shared`, workspace packages npm links
  // into node_modules): one metafile-only bundle at start finds their directories.
  async watchRoots(target) {
    if (!target.bundle) return [];
    const output = await bundleOutputFor(target.context, target.entry);
    const result = await esbuildApi()
      .build({ ...bundleOptions(target, ["*.node"], output), metafile: true })
      .catch(() => undefined);
    return outsideDirs(Object.keys(result?.metafile?.inputs ?? {}), target.context);
  },
  async artifact({ target, externals }) {
    // Unbundled sources reach the running thing by the planner's syncs.
    if (!target.bundle) return undefined;
    const { context } = esbuildApi();
    const output = await bundleOutputFor(target.context, target.entry);
    let ctx: BuildContext<ReturnType<typeof bundleOptions>> | undefined;
    return {
      async rebuild() {
        try {
          ctx ??= await context(bundleOptions(target, externals, output));
          const result = await ctx.rebuild();
          return [{ path: `/app/${output.path}`, kind: "write", data: bundleOutput(result), mode: 0o644 }];
        } catch (e) {
          throw esbuildError(e, target);
        }
      },
      async dispose() {
        await ctx?.dispose();
      },
    };
  },
};

/** The fewest directories holding every bundled file outside `context` (node_modules aside). */
export function outsideDirs(inputs: string[], context: string): string[] {
  const dirs = [
    ...new Set(
      inputs
        .map((p) => p.replace(/^\.\//, ""))
        .filter((p) => p.startsWith("../") && !p.split("/").includes("node_modules"))
        .map((p) => posix.dirname(p)),
    ),
  ].sort();
  const kept = dirs.filter((d) => !dirs.some((o) => o !== d && d.startsWith(`${o}/`)));
  return kept.map((d) => resolve(context, d));
}
