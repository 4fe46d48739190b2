// Bundles the CLI into one ESM file so `tug` starts without a TypeScript loader (no-op builds
// are dominated by start-up time). Library consumers import src/ through tsx or the bundle.
import { build } from "esbuild";

await build({
  entryPoints: { cli: "src/cli/main.ts", index: "src/index.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "linked",
  logLevel: "warning",
});
