// Bundles the CLI and library so `tug` starts without a TypeScript loader: a no-op build is
// dominated by start-up time. Pure-JS dependencies are bundled in (fewer files to resolve and
// load); code split at dynamic imports keeps the registry client and esbuild's API
// out of start-up until a build needs them.
import { build } from "esbuild";

await build({
  entryPoints: { cli: "src/cli/main.ts", index: "src/index.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["esbuild", "@parcel/watcher"],
  banner: {
    js: "import { createRequire as __tugCreateRequire } from 'node:module'; const require = __tugCreateRequire(import.meta.url);",
  },
  sourcemap: "linked",
  logLevel: "warning",
});
