import type { CacheStore } from "../engine/cache-store.ts";
import type { SimpleIndex } from "./index-client.ts";
import { cachedTestFilesImported } from "./kept-tests.ts";
import { type ModuleTree, mergeTrees, moduleTreeFromPaths, treeOfNames } from "./module-providers.ts";
import type { Resolution } from "./resolution.ts";
import { layoutWheel, type StripOptions, type WheelEntries } from "./wheel-layout.ts";
import { cachedWheelTable, WheelFile, type WheelRow } from "./wheel-table.ts";

export interface ResolvedWheels {
  /** Each wheel's zip entries (names under `prefix`), ready for mergeWheels. */
  lists: WheelEntries[];
  /** The dotted modules the wheels install (from their file tables), plus python.module_mapping's. */
  tree: ModuleTree;
  /** Open wheel files; the caller closes them once the zip is written (or dropped). */
  wheels: WheelFile[];
}

export interface ResolvedWheelsOptions {
  index: Pick<SimpleIndex, "wheelPath">;
  store: CacheStore | undefined;
  strip: StripOptions;
  /** Where in the zip the wheels' root goes: "" for a function, "python/" for a layer. */
  prefix?: string;
  /** Normalised distribution name → extra module names it provides (python.module_mapping). */
  moduleMapping?: Readonly<Record<string, readonly string[]>>;
}

/**
 * The zip entries of a resolution's wheels, from the sha256 wheel cache (a locked resolution
 * makes no index request here) and each wheel's cached file table: no wheel is parsed twice.
 */
export async function resolvedWheels(
  resolution: Resolution,
  opts: ResolvedWheelsOptions,
): Promise<ResolvedWheels> {
  const wheels: WheelFile[] = [];
  const trees: ModuleTree[] = [];
  const prefix = opts.prefix ?? "";
  const lists = await Promise.all(
    resolution.distributions.map(async (d) => {
      const path = await opts.index.wheelPath({ filename: d.wheel, url: d.url, sha256: d.sha256 });
      const rows = await cachedWheelTable(opts.store, d.sha256, path, d.wheel);
      trees.push(treeOfWheel(d.name, rows, opts.moduleMapping));
      const file = new WheelFile(path);
      wheels.push(file);
      const keptTests = opts.strip.tests
        ? await cachedTestFilesImported(opts.store, d.sha256, rows, file)
        : [];
      const entries = layoutWheel(d.wheel, rows, (r) => file.raw(r), { strip: opts.strip, keptTests });
      if (prefix) for (const e of entries) e.name = `${prefix}${e.name}`;
      return { wheel: d.wheel, entries };
    }),
  );
  return { lists, tree: mergeTrees(trees), wheels };
}

/** The modules a wheel installs: from its files, plus python.module_mapping's word. */
export function treeOfWheel(
  distribution: string,
  rows: readonly WheelRow[],
  moduleMapping?: Readonly<Record<string, readonly string[]>>,
): ModuleTree {
  const fromFiles = moduleTreeFromPaths(rows.map((r) => r.name));
  const mapped = moduleMapping?.[distribution];
  return mapped?.length ? mergeTrees([fromFiles, treeOfNames(mapped)]) : fromFiles;
}

/** Closes what resolvedWheels opened. */
export async function closeWheels(wheels: readonly WheelFile[]): Promise<void> {
  await Promise.all(wheels.map((w) => w.close()));
}
