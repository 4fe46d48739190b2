// tug.yaml's `builder: python` keys and their normalising; the plan is python.ts.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { FIELD_HELP } from "../config/field-help.ts";
import { Args, imageFields, relativePath } from "../config/image-fields.ts";
import { builderSchema } from "./builder-schema.ts";

const PythonImage = z
  .strictObject({
    builder: z.literal("python").describe(FIELD_HELP.builder),
    ...imageFields,
    requirements: relativePath("requirements").optional().describe(FIELD_HELP.pyRequirements),
    module: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, {
        error: "expected a dotted Python module name like app.main",
      })
      .optional()
      .describe(FIELD_HELP.pyModule),
    command: Args.min(1).optional().describe(FIELD_HELP.pyCommand),
    python_version: z
      .string()
      .regex(/^3\.[0-9]+(\.[0-9]+)?$/, { error: 'expected a CPython version like "3.11" or "3.11.9"' })
      .optional()
      .describe(FIELD_HELP.pyVersion),
    glibc: z
      .string()
      .regex(/^2\.[0-9]+$/, { error: 'expected a glibc version like "2.36"' })
      .optional()
      .describe(FIELD_HELP.pyGlibc),
    source_roots: z.array(relativePath("source_roots")).default([]).describe(FIELD_HELP.pySourceRoots),
    index_url: z.string().min(1).optional().describe(FIELD_HELP.pyIndexUrl),
    extra_index_urls: z.array(z.string().min(1)).default([]).describe(FIELD_HELP.pyExtraIndexUrls),
  })
  .refine((t) => (t.module === undefined) !== (t.command === undefined), {
    error: "set exactly one of module: (runs python3 -m MODULE) and command: (a list of arguments)",
  });

export const pythonSchema = builderSchema({
  name: "python",
  schema: PythonImage,
  normalise: (raw, common) => {
    const [major, minor, patch] = (raw.python_version?.split(".").map(Number) ?? []) as [
      number?,
      number?,
      number?,
    ];
    const requirements = raw.requirements ?? "requirements.txt";
    return {
      ...common,
      builder: "python",
      // The default file is optional (a service without dependencies); a named one must exist.
      ...(raw.requirements !== undefined || existsSync(resolve(common.context, requirements))
        ? { requirements: resolve(common.context, requirements) }
        : {}),
      ...(raw.module !== undefined ? { module: raw.module } : {}),
      ...(raw.command !== undefined ? { command: raw.command } : {}),
      ...(major !== undefined && minor !== undefined ? { python: [major, minor] as const } : {}),
      ...(patch !== undefined ? { pythonFullVersion: `${major}.${minor}.${patch}` } : {}),
      ...(raw.glibc !== undefined ? { glibc: raw.glibc } : {}),
      sourceRoots: raw.source_roots.map((r) => resolve(common.context, r)),
      ...(raw.index_url !== undefined ? { indexUrl: raw.index_url } : {}),
      extraIndexUrls: raw.extra_index_urls,
    };
  },
});
