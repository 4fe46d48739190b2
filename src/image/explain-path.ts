import { promises as fs } from "node:fs";
import { isAbsolute, join, relative, sep } from "node:path";
import { builderFor, ignoreSettings } from "../builders/index.ts";
import type { ImageTarget, Project } from "../config/types.ts";
import { loadContextRules, loadGitignoresAlong } from "../engine/ignore-files.ts";
import { describeOrigin, type PathVerdict, type RuleOrigin } from "../engine/ignore-rules.ts";
import { TugError } from "../errors.ts";
import { selectTargets } from "./build.ts";

export interface PathExplanation {
  /** Relative to the target's context, '/'-separated. */
  path: string;
  /** True when a build reads it: in the layer and in the cache key. */
  input: boolean;
  reason: string;
  /** The ignore-file line that decided, when one did. */
  rule?: RuleOrigin;
  exists: boolean;
}

/**
 * `tug explain TARGET --path P`: whether P (relative to the context, or absolute) is one of the
 * target's inputs and, if not, which ignore file and line left it out.
 */
export async function explainPath(project: Project, name: string, path: string): Promise<PathExplanation> {
  const isImage = project.targets.some((t) => t.name === name);
  if (!isImage && [...(project.lambdas ?? []), ...(project.layers ?? [])].some((l) => l.name === name)) {
    throw new TugError({
      what: "--path explains the context files of images; lambdas read their sources otherwise",
      where: project.file,
      hint: "name an image target",
    });
  }
  const [target] = selectTargets(project, [name]);
  const rel = contextRelative(target!, path);
  const st = await fs.lstat(join(target!.context, rel)).catch(() => undefined);
  const settings = ignoreSettings(target!);
  const rules = await loadContextRules(target!.context, settings);
  if (settings.git) await loadGitignoresAlong(rules, target!.context, rel);
  const verdict = rules.explain(rel, st?.isDirectory() ?? false);
  return { path: rel, exists: st !== undefined, ...judge(target!, rel, verdict) };
}

function contextRelative(target: ImageTarget, path: string): string {
  const rel = (isAbsolute(path) ? relative(target.context, path) : path)
    .split(sep)
    .join("/")
    .replace(/^(\.\/)+/, "")
    .replace(/\/+$/, "");
  if (rel === "" || rel === "." || rel === ".." || rel.startsWith("../")) {
    throw new TugError({
      what: `${path} is not a path inside the context of ${target.name} (${target.context})`,
      where: target.where,
      hint: "give a path relative to the target's context, e.g. --path src/server.ts",
    });
  }
  return rel;
}

/** Pure: the answer for a path given the ignore files' verdict and the builder's own exclusions. */
export function judge(
  target: ImageTarget,
  rel: string,
  v: PathVerdict,
): Omit<PathExplanation, "path" | "exists"> {
  const segments = rel.split("/");
  if (segments.some((s) => s === ".git" || s === ".tug"))
    return { input: false, reason: "excluded: tug never reads .git or .tug directories" };
  if (v.excluded && v.by) {
    const where = describeOrigin(v.by);
    return {
      input: false,
      reason: v.under ? `excluded: it is under ${v.under}/, which ${where} excludes` : `excluded by ${where}`,
      rule: v.by,
    };
  }
  const excluded = builderFor(target).excludes?.(target, rel);
  if (excluded) return { input: false, reason: excluded };
  if (v.by) return { input: true, reason: `an input: re-included by ${describeOrigin(v.by)}`, rule: v.by };
  return { input: true, reason: "an input: no ignore rule matches it" };
}
