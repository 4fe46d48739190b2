import { posix } from "node:path";
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
