import { promises as fs } from "node:fs";
import { dirname, join } from "node:path";
import type { BuildPlan } from "../builders/builder.ts";
import { builderFor } from "../builders/index.ts";
import type { ImageTarget } from "../config/types.ts";
import type { Engine } from "../engine/engine.ts";
import { extraLayerEnv, extraLayerRecipes } from "../image/extra-layers.ts";
import type { LayerEntry } from "../oci/tar.ts";
import type { Platform } from "../oci/types.ts";

export interface StagedTarget {
  argv: string[];
  env: Record<string, string>;
  workdir?: string;
  /** The builder's external packages (node), for the incremental bundle. */
  externals: string[];
}

/**
 * Writes the files of every layer tug builds for `target` into `staging`, as they would be in
 * the image (the base image's files are not: the local runtime uses the host's), and returns
 * the process settings the image config would carry.
 */
export async function stageTarget(
  engine: Engine,
  target: ImageTarget,
  platform: Platform,
  staging: string,
): Promise<StagedTarget> {
  const plan = await builderFor(target).plan({ engine, target, platform });
  const fresh = `${staging}.new`;
  await fs.rm(fresh, { recursive: true, force: true });
  await fs.mkdir(fresh, { recursive: true });
  for (const recipe of [...plan.layers, ...(await extraLayerRecipes(engine, target))]) {
    const { entries, cleanup } = await recipe.produce();
    try {
      await materialize(fresh, entries);
    } finally {
      await cleanup?.();
    }
  }
  // Swap whole directories so a running process never sees a half-staged tree.
  await fs.rm(staging, { recursive: true, force: true });
  await fs.rename(fresh, staging);
  const entrypoint = target.entrypoint ?? plan.config.entrypoint ?? [];
  const cmd = target.cmd ?? (target.entrypoint ? [] : (plan.config.cmd ?? []));
  return {
    argv: [...entrypoint, ...cmd],
    // KO_DATA_PATH names the staged copy: the host's /var/run/ko is not the image's.
    env: {
      ...plan.config.env,
      ...Object.fromEntries(Object.entries(extraLayerEnv(target)).map(([k, v]) => [k, join(staging, v)])),
      ...target.env,
    },
    workdir: target.workdir ?? plan.config.workdir,
    externals: planExternals(plan),
  };
}

/** Packages the plan leaves out of the bundle; the incremental dev bundle must leave out the same. */
export function planExternals(plan: BuildPlan): string[] {
  return [
    ...new Set(plan.layers.flatMap((l) => (Array.isArray(l.params.externals) ? l.params.externals : []))),
  ];
}

async function materialize(root: string, entries: LayerEntry[]): Promise<void> {
  for (const e of entries) {
    const dest = join(root, e.path);
    if (e.type === "dir") {
      await fs.mkdir(dest, { recursive: true });
      continue;
    }
    await fs.mkdir(dirname(dest), { recursive: true });
    await fs.rm(dest, { force: true });
    if (e.type === "symlink") await fs.symlink(e.linkname ?? "", dest);
    else {
      if (e.data) await fs.writeFile(dest, e.data);
      else if (e.source) await fs.copyFile(e.source, dest);
      await fs.chmod(dest, (e.mode & 0o111) !== 0 ? 0o755 : 0o644);
    }
  }
}
