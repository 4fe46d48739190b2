import type { z } from "zod";
import type { ImageTarget, TargetCommon } from "../config/types.ts";
import type { IgnoreSettings } from "../engine/ignore-rules.ts";

export type BuilderName = ImageTarget["builder"];

/**
 * What tug.yaml says about one builder: the keys of its `images.NAME` mapping (a strict zod
 * object: `builder`, the shared image fields, its own) and how a validated mapping becomes its
 * target. Small on purpose: loading tug.yaml loads every fragment, while the builder's plan and
 * dev code load only when a build or `tug dev` needs them.
 */
export interface BuilderSchema<N extends BuilderName = BuilderName, S extends z.ZodObject = z.ZodObject> {
  name: N;
  schema: S;
  /** `base:` when tug.yaml sets none (default scratch). */
  defaultBase?: string;
  /** Which context files are inputs when `ignore:` says nothing (default: .gitignore honoured). */
  defaultIgnore?: IgnoreSettings;
  /**
   * A problem of the target's inputs on disk (a missing entry file), shown at
   * `images.NAME.<key>` of tug.yaml; `dir` holds tug.yaml. Checked after every context exists.
   */
  inputProblem?(
    target: Extract<ImageTarget, { builder: N }>,
    dir: string,
  ): Promise<{ key: string; what: string; hint: string } | undefined>;
  /** The target from the validated mapping; `common` holds the shared fields, already normalised. */
  normalise(raw: z.output<S>, common: TargetCommon): Extract<ImageTarget, { builder: N }>;
}

/** Declares a fragment with its types inferred from the schema. */
export function builderSchema<N extends BuilderName, S extends z.ZodObject>(
  fragment: BuilderSchema<N, S>,
): BuilderSchema<N, S> {
  return fragment;
}
