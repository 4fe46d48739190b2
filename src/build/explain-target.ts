import { builderFor } from "../builders/index.ts";
import type { Project } from "../config/types.ts";
import { Engine } from "../engine/engine.ts";
import { diffInputs, explainRecordOf, readExplain } from "../engine/explain.ts";
import { recipeKey } from "../engine/layer-action.ts";
import { platformString } from "../oci/types.ts";
import { selectTargets } from "./build.ts";

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
    const out: StepExplanation[] = [];
    for (const platform of target!.platforms) {
      const plan = await builderFor(target!).plan({ engine, target: target!, platform });
      for (const recipe of plan.layers) {
        const key = recipeKey(recipe);
        const now = explainRecordOf(recipe, key);
        const recorded = await readExplain(engine, target!.name, recipe.step);
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
  } finally {
    await engine.close();
  }
}
