// The tug CLI bundled from the current src/ into a bench's temp dir with the options of
// scripts/build.mjs, so a bench runs what the sources say (not a stale dist/) at the speed of
// the shipped bundle (not tsx's on-the-fly compile).
import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Bundles into DIR/dist; returns the argv that runs it (`node DIR/dist/cli.js`). */
export async function bundleCli(dir: string): Promise<string[]> {
  const { build } = await import("esbuild");
  // The bundle leaves esbuild, undici and @parcel/watcher external: resolve them from the repo.
  await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"));
  await build({
    entryPoints: { cli: join(ROOT, "src/cli/main.ts") },
    outdir: join(dir, "dist"),
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["esbuild", "undici", "@parcel/watcher"],
    banner: {
      js: "import { createRequire as __tugCreateRequire } from 'node:module'; const require = __tugCreateRequire(import.meta.url);",
    },
    logLevel: "warning",
  });
  return [process.execPath, join(dir, "dist", "cli.js")];
}
