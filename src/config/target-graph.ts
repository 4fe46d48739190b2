import { TugError } from "../errors.ts";
import { platformString } from "../oci/types.ts";
import { TUG_SCHEME } from "./names.ts";
import { closest } from "./suggest.ts";
import type { ImageTarget } from "./types.ts";

// `base: tug://NAME` makes the images of one tug.yaml a graph (the multi-stage build of the tug
// world). Checking it is pure: loadProject turns each problem into a located diagnostic, and
// the build orders targets with `buildOrder`.

/** The image target this one is built on, when its base is `tug://NAME`. */
export function baseTargetOf(target: ImageTarget): string | undefined {
  return target.base.kind === "target" ? target.base.name : undefined;
}

export interface GraphProblem {
  /** The target whose `base:` is wrong. */
  target: string;
  what: string;
  hint: string;
}

/** Unknown `tug://` names, cycles and platforms a base target is not built for, in tug.yaml order. */
export function graphProblems(targets: readonly ImageTarget[]): GraphProblem[] {
  const byName = new Map(targets.map((t) => [t.name, t]));
  const out: GraphProblem[] = [];
  const inCycle = new Set<string>();
  for (const t of targets) {
    const name = baseTargetOf(t);
    if (name === undefined) continue;
    const base = byName.get(name);
    if (!base) {
      const names = targets.map((x) => x.name).filter((n) => n !== t.name);
      const guess = closest(name, names);
      out.push({
        target: t.name,
        what: `base ${TUG_SCHEME}${name} names no image of this tug.yaml`,
        hint: guess
          ? `did you mean ${TUG_SCHEME}${guess}?`
          : `tug:// bases name another image under images: (${names.join(", ") || "there is none"})`,
      });
      continue;
    }
    const cycle = cycleFrom(t.name, byName);
    if (cycle) {
      // One diagnostic per cycle, at its first member in tug.yaml order.
      if (!cycle.some((n) => inCycle.has(n))) {
        out.push({
          target: t.name,
          what:
            cycle.length === 1
              ? `${t.name} is its own base (${TUG_SCHEME}${t.name})`
              : `base cycle: ${[...cycle, t.name].join(" → ")}`,
          hint: "an image cannot be built on itself; give one of them another base",
        });
      }
      for (const n of cycle) inCycle.add(n);
      continue;
    }
    const have = new Set(base.platforms.map(platformString));
    const missing = t.platforms.map(platformString).filter((p) => !have.has(p));
    if (missing.length > 0) {
      out.push({
        target: t.name,
        what: `base ${TUG_SCHEME}${name} is not built for ${missing.join(", ")}`,
        hint: `add ${missing.join(", ")} to images.${name}.platforms, or build ${t.name} for fewer platforms`,
      });
    }
  }
  return out;
}

/** The members of the cycle `start` is in (start first), following base edges; undefined if none. */
function cycleFrom(start: string, byName: Map<string, ImageTarget>): string[] | undefined {
  const path: string[] = [];
  const seen = new Set<string>();
  let at: string | undefined = start;
  while (at !== undefined && !seen.has(at)) {
    const t = byName.get(at);
    if (!t) return undefined;
    seen.add(at);
    path.push(at);
    at = baseTargetOf(t);
  }
  return at === start ? path : undefined;
}

/**
 * `selected` and every target they are built on, bases before their dependents (otherwise in
 * tug.yaml order). Throws on a graph loadProject would have refused (API callers' projects).
 */
export function buildOrder(all: readonly ImageTarget[], selected: readonly ImageTarget[]): ImageTarget[] {
  const byName = new Map(all.map((t) => [t.name, t]));
  const problem = graphProblems(all)[0];
  if (problem) {
    throw new TugError({ what: problem.what, where: byName.get(problem.target)?.where, hint: problem.hint });
  }
  const order: ImageTarget[] = [];
  const placed = new Set<string>();
  const place = (t: ImageTarget): void => {
    if (placed.has(t.name)) return;
    const base = baseTargetOf(t);
    if (base !== undefined) place(byName.get(base)!);
    placed.add(t.name);
    order.push(t);
  };
  const wanted = new Set(selected.map((t) => t.name));
  for (const t of all) if (wanted.has(t.name)) place(t);
  // Targets passed in but not part of `all` (a caller's ad-hoc target) keep their place at the end.
  for (const t of selected) if (!placed.has(t.name)) place(t);
  return order;
}
