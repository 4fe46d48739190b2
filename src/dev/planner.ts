import { builderFor } from "../builders/index.ts";
import type { ImageTarget } from "../config/types.ts";
import { matchesAny } from "../engine/glob.ts";
import { IGNORE_FILE_NAMES } from "../engine/ignore-rules.ts";
import { isEditorTemp } from "./editor-temp.ts";

/** A changed path, relative to the target's context ('/' separators). */
export interface Change {
  path: string;
  deleted: boolean;
}

export type Plan =
  | { action: "none" }
  | { action: "rebuild"; reason: string; changes: Change[] }
  | {
      action: "live";
      /** Builders tug knows (go, node, command) rebuild their artifact locally and swap it. */
      rebuildArtifact: boolean;
      /** File syncs: host path relative to context → absolute path in the image. */
      sync: Array<Change & { to: string }>;
      run: string[];
      restart: boolean;
      changes: Change[];
    };

const IGNORED = /(^|\/)(\.git|node_modules|\.tug)(\/|$)/;

/**
 * Decides what a batch of changes means for one target: nothing (not an input), a live update
 * (sync + run + restart, or an in-place artifact rebuild for go/node/command), or a full rebuild
 * and redeploy. Pure: the session does the I/O.
 */
export function planChanges(target: ImageTarget, changes: Change[]): Plan {
  const relevant = changes.filter(
    (c) =>
      !IGNORED.test(c.path) &&
      !builderFor(target).dev?.ignoresChange?.(target, c.path) &&
      !isEditorTemp(c.path.split("/").pop() ?? ""),
  );
  if (relevant.length === 0) return { action: "none" };
  const dev = target.dev;
  const hooks = builderFor(target).dev;
  const fallBack = [...(dev?.fallBackOn ?? []), ...(hooks?.dependencyFiles?.(target) ?? [])];
  // New ignore rules change which files are inputs: only a rebuild ships exactly the new set.
  const rules = relevant.find((c) => IGNORE_FILE_NAMES.has(c.path.split("/").pop()!));
  if (rules)
    return { action: "rebuild", reason: `${rules.path} changed which files are inputs`, changes: relevant };
  const trigger = relevant.find((c) => matchesAny(c.path, fallBack));
  if (trigger)
    return { action: "rebuild", reason: `${trigger.path} matches fall_back_on`, changes: relevant };

  const syncRules = dev?.sync ?? [];
  const sync: Array<Change & { to: string }> = [];
  const unsynced: Change[] = [];
  for (const c of relevant) {
    // A file outside the context (a Go module reached by `replace`) is an input of the build only.
    if (c.path.startsWith("../")) {
      unsynced.push(c);
      continue;
    }
    const to = syncTarget(c.path, syncRules, target);
    // A file of a `layers:` entry is copied where that layer puts it (besides any rule above).
    const layered = (target.layers ?? []).flatMap((l) => {
      const at = layerPath(c.path, l);
      return at === undefined ? [] : [{ ...c, to: at }];
    });
    if (to) sync.push({ ...c, to });
    sync.push(...layered);
    if (!to && layered.length === 0) unsynced.push(c);
  }
  const rebuildArtifact = hooks?.artifact !== undefined;
  // A file no sync rule covers, in a builder whose artifact tug cannot rebuild in place,
  // can only reach the running image through a rebuild.
  if (unsynced.length > 0 && !rebuildArtifact) {
    return {
      action: "rebuild",
      reason: `${unsynced[0]!.path} is not covered by a sync rule`,
      changes: relevant,
    };
  }
  const run = (dev?.run ?? [])
    .filter((r) => !r.when || relevant.some((c) => matchesAny(c.path, r.when!)))
    .map((r) => r.cmd);
  return {
    action: "live",
    rebuildArtifact: rebuildArtifact && unsynced.length > 0,
    sync,
    run,
    restart: dev?.restart ?? true,
    changes: relevant,
  };
}

/** The in-image path of a changed file under the sync rules; `files` syncs its context to dest. */
function syncTarget(
  path: string,
  rules: Array<{ from: string; to: string }>,
  target: ImageTarget,
): string | undefined {
  for (const r of rules) {
    const from = r.from.replace(/^\.\//, "").replace(/\/$/, "");
    if (from === "" || from === ".") return joinImage(r.to, path);
    if (path === from) return r.to.endsWith("/") ? joinImage(r.to, path.split("/").pop()!) : r.to;
    if (path.startsWith(`${from}/`)) return joinImage(r.to, path.slice(from.length + 1));
  }
  return rules.length === 0 ? builderFor(target).dev?.syncPath?.(target, path) : undefined;
}

/** Where a context file lands through one `layers:` entry; undefined when it is not under `from`. */
function layerPath(path: string, layer: { from: string; to: string }): string | undefined {
  if (layer.from === "") return joinImage(layer.to, path);
  if (path === layer.from) return layer.to;
  return path.startsWith(`${layer.from}/`)
    ? joinImage(layer.to, path.slice(layer.from.length + 1))
    : undefined;
}

function joinImage(dir: string, rel: string): string {
  return `${dir.replace(/\/+$/, "")}/${rel}`;
}
