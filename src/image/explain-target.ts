import { builderFor } from "../builders/index.ts";
import { baseTargetOf } from "../config/target-graph.ts";
import type { ImageTarget, Project } from "../config/types.ts";
import { Engine } from "../engine/engine.ts";
import { diffInputs, explainRecordOf, readExplain } from "../engine/explain.ts";
import { recipeKey } from "../engine/layer-action.ts";
import { type Platform, platformString } from "../oci/types.ts";
import { lastBuiltConfig, readBaseUse } from "./base-target.ts";
import { selectTargets } from "./build.ts";
import { extraLayerRecipes } from "./extra-layers.ts";

export interface StepExplanation {
  step: string;
  platform: string;
  /** up-to-date: the next build reuses the cache; rebuild: it will run; rebuilt: the last build ran it. */
  status: "up-to-date" | "rebuild" | "missing";
  reasons: string[];
  /** Why the last build that ran this step ran it (inputs that changed before that). */
  lastRebuildReasons: string[];
}

/** Why a target was (or would be) rebuilt: plans it without running anything and diffs inputs. */
export async function explainTarget(
  project: Project,
  name: string,
  opts: { cacheDir?: string; out?: string } = {},
): Promise<StepExplanation[]> {
  const isLambda = [...(project.lambdas ?? []), ...(project.layers ?? [])].some((l) => l.name === name);
  if (isLambda) return (await import("../lambda/explain-lambda.ts")).explainLambda(project, name, opts);
  const [target] = selectTargets(project, [name]);
  const engine = await Engine.open({ cacheDir: opts.cacheDir, scope: project.dir });
  try {
    return await explainSteps(engine, project, target!);
  } finally {
    await engine.close();
  }
}

async function explainSteps(
  engine: Engine,
  project: Project,
  target: ImageTarget,
): Promise<StepExplanation[]> {
  const out: StepExplanation[] = [];
  const extra = await extraLayerRecipes(engine, target);
  for (const platform of target.platforms) {
    const baseName = baseTargetOf(target);
    const baseTarget = project.targets.find((t) => t.name === baseName);
    if (baseTarget) out.push(await explainBase(engine, project, target, baseTarget, platform));
    const plan = await builderFor(target).plan({ engine, target, platform });
    for (const recipe of [...plan.layers, ...extra]) {
      const key = recipeKey(recipe);
      const now = explainRecordOf(recipe, key);
      const recorded = await readExplain(engine, target.name, recipe.step);
      const hasOutput = (await engine.store.getRecord("layer", key)) !== undefined;
      const base = { step: recipe.step, platform: platformString(platform) };
      const lastRebuildReasons = recorded ? diffInputs(recorded.previous, recorded.last) : [];
      if (recorded?.last.key === key) {
        out.push({
          ...base,
          status: hasOutput ? "up-to-date" : "missing",
          reasons: hasOutput
            ? []
            : ["the cache no longer holds this step's output (pruned or never finished)"],
          lastRebuildReasons,
        });
      } else {
        out.push({
          ...base,
          status: hasOutput ? "up-to-date" : "rebuild",
          reasons: diffInputs(recorded?.last, now),
          lastRebuildReasons,
        });
      }
    }
  }
  return out;
}

const short = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 12);

/**
 * The `base: tug://NAME` step: the target is re-based (its own layers reused) when the base
 * target will be rebuilt, or was rebuilt since this target was last built on it.
 */
async function explainBase(
  engine: Engine,
  project: Project,
  target: ImageTarget,
  baseTarget: ImageTarget,
  platform: Platform,
): Promise<StepExplanation> {
  const step = `base tug://${baseTarget.name} ${platformString(platform)}`;
  const used = await readBaseUse(engine, target.name, platform);
  const lastRebuildReasons =
    used?.previous && used.previous.config !== used.last.config
      ? [
          `base target ${used.last.target} changed (config ${short(used.previous.config)} → ${short(used.last.config)})`,
        ]
      : [];
  const head = { step, platform: platformString(platform), lastRebuildReasons };
  const pending = (await explainSteps(engine, project, { ...baseTarget, platforms: [platform] })).filter(
    (s) => s.status !== "up-to-date",
  );
  if (pending.length > 0)
    return {
      ...head,
      status: "rebuild",
      reasons: pending.map(
        (s) =>
          `base target ${baseTarget.name} will be rebuilt: ${s.step}${s.reasons[0] ? ` (${s.reasons[0]})` : ""}`,
      ),
    };
  if (!used || used.last.target !== baseTarget.name)
    return {
      ...head,
      status: "rebuild",
      reasons: [`no earlier build on tug://${baseTarget.name} is recorded in this cache`],
    };
  const current = await lastBuiltConfig(engine, baseTarget.name, platform);
  if (current !== undefined && current !== used.last.config)
    return {
      ...head,
      status: "rebuild",
      reasons: [
        `base target ${baseTarget.name} changed since ${target.name} was last built (config ${short(used.last.config)} → ${short(current)})`,
      ],
    };
  return { ...head, status: "up-to-date", reasons: [] };
}
