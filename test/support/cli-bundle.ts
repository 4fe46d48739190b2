// The tug CLI bundled from the current src/ into a bench's temp dir with the options of
// scripts/build.mjs, so a bench runs what the sources say (not a stale dist/) at the speed of
// the shipped bundle (not tsx's on-the-fly compile), V8 code cache included.
import { createHash } from "node:crypto";
import { cp, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
// @ts-expect-error: a plain .mjs build script without typings
import { cliBundleOptions } from "../../scripts/cli-bundle.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Bundles into DIR/dist beside a copy of bin/; returns the argv that runs it (`node DIR/bin/tug.js`). */
export async function bundleCli(dir: string): Promise<string[]> {
  const { build } = await import("esbuild");
  // The bundle leaves esbuild and @parcel/watcher external: resolve them from the repo.
  await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"));
  await mkdir(join(dir, "dist"), { recursive: true });
  // A build id of its own (16 hex digits, as scripts/build.mjs writes): its own V8 code cache.
  const buildId = createHash("sha256").update(dir).digest("hex").slice(0, 16);
  await build({ ...cliBundleOptions({ outdir: join(dir, "dist"), buildId }), absWorkingDir: ROOT });
  await writeFile(join(dir, "dist", "build-id"), buildId);
  await cp(join(ROOT, "bin"), join(dir, "bin"), { recursive: true });
  await cp(join(ROOT, "package.json"), join(dir, "package.json"));
  return [process.execPath, join(dir, "bin", "tug.js")];
}
