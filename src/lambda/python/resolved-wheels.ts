import type { CacheStore } from "../../engine/cache-store.ts";
import type { SimpleIndex } from "./index-client.ts";
import type { Resolution } from "./resolution.ts";
import { topLevelFromPaths } from "./top-level.ts";
import { layoutWheel, type StripOptions, type WheelEntries } from "./wheel-layout.ts";
import { cachedWheelTable, WheelFile, type WheelRow } from "./wheel-table.ts";

export interface ResolvedWheels {
  /** Each wheel's zip entries (names under `prefix`), ready for mergeWheels. */
  lists: WheelEntries[];
  /** Top-level module names the wheels install (from their file tables). */
  provided: Set<string>;
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
  const provided = new Set<string>();
  const prefix = opts.prefix ?? "";
  const lists = await Promise.all(
    resolution.distributions.map(async (d) => {
      const path = await opts.index.wheelPath({ filename: d.wheel, url: d.url, sha256: d.sha256 });
      const rows = await cachedWheelTable(opts.store, d.sha256, path, d.wheel);
      for (const m of modulesOf(d.name, rows, opts.moduleMapping)) provided.add(m);
      const file = new WheelFile(path);
      wheels.push(file);
      const entries = layoutWheel(d.wheel, rows, (r) => file.raw(r), { strip: opts.strip });
      if (prefix) for (const e of entries) e.name = `${prefix}${e.name}`;
      return { wheel: d.wheel, entries };
    }),
  );
  return { lists, provided, wheels };
}

/** The top-level modules a wheel installs: from its files, plus python.module_mapping's word. */
export function modulesOf(
  distribution: string,
  rows: readonly WheelRow[],
  moduleMapping?: Readonly<Record<string, readonly string[]>>,
): string[] {
  const fromMapping = (moduleMapping?.[distribution] ?? []).map((m) => m.split(".")[0] as string);
  return [...topLevelFromPaths(rows.map((r) => r.name)), ...fromMapping];
}

/** Closes what resolvedWheels opened. */
export async function closeWheels(wheels: readonly WheelFile[]): Promise<void> {
  await Promise.all(wheels.map((w) => w.close()));
}
