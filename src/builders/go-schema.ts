// tug.yaml's `builder: go` keys and their normalising; the plan is go.ts.
import { z } from "zod";
import { FIELD_HELP } from "../config/field-help.ts";
import {
  Args,
  checkedString,
  imageFields,
  type Problem,
  StringMap,
  stringsOf,
} from "../config/image-fields.ts";
import { PLATFORM_VARIABLES, refusedFlag } from "../go/env.ts";
import { builderSchema } from "./builder-schema.ts";

const goFlagProblem = (flag: string): Problem => {
  const refused = refusedFlag([flag]);
  return refused && { what: `flags: ${refused.flag} is not allowed`, hint: refused.hint };
};
const goVariableProblem = (name: string): Problem =>
  (PLATFORM_VARIABLES as readonly string[]).includes(name)
    ? {
        what: `build_env may not set ${name}`,
        hint:
          name === "CGO_ENABLED"
            ? 'images are static: CGO stays off; only CGO_ENABLED: "0" may be set, to accept packages\' non-cgo fallbacks'
            : "tug sets it from platforms: (CGO stays off: images are static)",
      }
    : /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
      ? undefined
      : `${name} is not an environment variable name`;

const GoImage = z.strictObject({
  builder: z.literal("go").describe(FIELD_HELP.builder),
  ...imageFields,
  main: z.string().default(".").describe(FIELD_HELP.main),
  ldflags: z.union([z.string(), Args]).optional().describe(FIELD_HELP.ldflags),
  flags: z.array(checkedString(goFlagProblem)).optional().describe(FIELD_HELP.goFlags),
  build_tags: z
    .array(
      z
        .string()
        .regex(/^[A-Za-z0-9_.!-]+$/, { error: "a build tag is letters, digits, '_', '.', '-' or '!'" }),
    )
    .optional()
    .describe(FIELD_HELP.buildTags),
  build_env: StringMap.check((ctx) => {
    for (const [name, value] of Object.entries(ctx.value)) {
      if (name === "CGO_ENABLED" && value === "0") continue; // accepts non-cgo fallbacks (go/cgo.ts)
      const p = goVariableProblem(name);
      if (p === undefined) continue;
      const { what, hint } = typeof p === "string" ? { what: p, hint: undefined } : p;
      ctx.issues.push({ code: "custom", message: what, input: ctx.value, path: [name], params: { hint } });
    }
  })
    .optional()
    .describe(FIELD_HELP.buildEnv),
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, { error: "a binary name is letters, digits, '.', '_' and '-'" })
    .optional()
    .describe(FIELD_HELP.name),
});

export const goSchema = builderSchema({
  name: "go",
  schema: GoImage,
  normalise: (raw, common) => ({
    ...common,
    builder: "go",
    main: raw.main,
    ldflags: raw.ldflags === undefined ? [] : typeof raw.ldflags === "string" ? [raw.ldflags] : raw.ldflags,
    binary: raw.name ?? common.name,
    flags: raw.flags ?? [],
    buildTags: raw.build_tags ?? [],
    buildEnv: stringsOf(raw.build_env),
  }),
});
