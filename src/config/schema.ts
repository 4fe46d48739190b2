import { z } from "zod";
import { BUILDER_SCHEMAS } from "../builders/schemas.ts";
import { FIELD_HELP } from "./field-help.ts";
import { checkedString } from "./image-fields.ts";
import { IMAGE_NAME } from "./names.ts";
import { repositoryProblem } from "./reference.ts";

// The single source of truth for tug.yaml: loading validates against it, errors quote its
// descriptions as hints, and scripts/gen-schema.ts turns it into schema/tug.schema.json.
// It holds no transforms and no machine-dependent defaults so the JSON Schema is stable;
// normalising (platform parsing, absolute paths, host platform) happens in targets.ts. Each
// builder declares its own keys (src/builders/NAME-schema.ts, listed in builders/schemas.ts);
// the keys every image shares are in image-fields.ts, their help in field-help.ts.

export type { BuilderName } from "../builders/builder-schema.ts";
export { FIELD_HELP } from "./field-help.ts";

type SchemasOf<T extends readonly unknown[]> = {
  -readonly [I in keyof T]: T[I] extends { schema: infer S } ? S : never;
};
const IMAGE_SCHEMAS = BUILDER_SCHEMAS.map((b) => b.schema) as unknown as SchemasOf<typeof BUILDER_SCHEMAS>;

/** Each builder's `images.NAME` schema by name (its fragment in src/builders/NAME-schema.ts). */
export const BUILDERS = Object.fromEntries(BUILDER_SCHEMAS.map((b) => [b.name, b.schema])) as {
  [B in (typeof BUILDER_SCHEMAS)[number] as B["name"]]: B["schema"];
};

export const ImageTargetSchema = z.discriminatedUnion("builder", IMAGE_SCHEMAS);

export const PythonSettings = z
  .strictObject({
    index_url: z.string().min(1).optional().describe(FIELD_HELP.indexUrl),
    extra_index_urls: z.array(z.string().min(1)).default([]).describe(FIELD_HELP.extraIndexUrls),
    requirements: z.string().min(1).default("requirements.txt").describe(FIELD_HELP.requirements),
    source_roots: z.array(z.string().min(1)).default([]).describe(FIELD_HELP.sourceRoots),
    module_mapping: z
      .record(z.string().min(1), z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/)))
      .default({})
      .describe(FIELD_HELP.moduleMapping),
    unknown_imports: z.enum(["warn", "error"]).default("warn").describe(FIELD_HELP.unknownImports),
    strip: z
      .strictObject({
        tests: z.boolean().default(false),
        pyi: z.boolean().default(false),
        docs: z.boolean().default(false),
      })
      .optional()
      .describe(FIELD_HELP.strip),
  })
  .describe(FIELD_HELP.python);

/** What a Python lambda and a lambda layer both say about the runtime they target. */
const PYTHON_TARGET_FIELDS = {
  glibc: z
    .string()
    .regex(/^2\.[0-9]+$/, { error: 'expected a glibc version like "2.28"' })
    .optional()
    .describe(FIELD_HELP.glibc),
  python_version: z
    .string()
    .regex(/^3\.[0-9]+\.[0-9]+$/, { error: 'expected a CPython release like "3.11.9"' })
    .optional()
    .describe(FIELD_HELP.pythonVersion),
  upload: z.enum(["direct", "s3"]).optional().describe(FIELD_HELP.upload),
};

// The runtime is checked while normalising (python/runtime.ts and lambda/node/runtime.ts own
// the lists and their messages).
export const LambdaTargetSchema = z.strictObject({
  runtime: z.string().min(1).describe(FIELD_HELP.lambdaRuntime),
  architecture: z.enum(["x86_64", "arm64"]).default("x86_64").describe(FIELD_HELP.architecture),
  handler: z
    .string()
    .regex(/^[^:]+:[A-Za-z_][A-Za-z0-9_]*$/, {
      error: "expected FILE:FUNCTION, e.g. lambdas/echo.py:handler",
    })
    .describe(FIELD_HELP.handler),
  ...PYTHON_TARGET_FIELDS,
  // Node.js only; a Python lambda that sets them is refused while normalising.
  minify: z.boolean().optional().describe(FIELD_HELP.lambdaMinify),
  sourcemap: z.boolean().optional().describe(FIELD_HELP.lambdaSourcemap),
  external: z.array(z.string().min(1)).optional().describe(FIELD_HELP.lambdaExternal),
  native: z.array(z.string().min(1)).optional().describe(FIELD_HELP.lambdaNative),
  layers: z.array(z.string().regex(IMAGE_NAME)).optional().describe(FIELD_HELP.lambdaLayers),
  include: z
    .array(
      z
        .string()
        .min(1)
        .max(1024)
        .refine((g) => !g.startsWith("/") && !g.split("/").includes(".."), {
          error: "expected a glob relative to the directory of tug.yaml, e.g. src/app/plugins/*.py",
        }),
    )
    .max(256)
    .optional()
    .describe(FIELD_HELP.lambdaInclude),
});

export const LayerSchema = z.strictObject({
  runtime: z.string().min(1).describe(FIELD_HELP.lambdaRuntime),
  architecture: z.enum(["x86_64", "arm64"]).default("x86_64").describe(FIELD_HELP.architecture),
  ...PYTHON_TARGET_FIELDS,
  requirements: z.array(z.string().min(1)).min(1).describe(FIELD_HELP.layerRequirements),
});

export { IMAGE_NAME } from "./names.ts";

export const TugFileSchema = z
  .strictObject({
    repo: checkedString(repositoryProblem).optional().describe(FIELD_HELP.repo),
    images: z.record(z.string().regex(IMAGE_NAME), ImageTargetSchema).default({}).describe(FIELD_HELP.images),
    python: PythonSettings.optional(),
    lambdas: z
      .record(z.string().regex(IMAGE_NAME), LambdaTargetSchema)
      .default({})
      .describe(FIELD_HELP.lambdas),
    layers: z.record(z.string().regex(IMAGE_NAME), LayerSchema).default({}).describe(FIELD_HELP.layers),
    cache: z
      .strictObject({ remote: z.string().min(1).optional().describe(FIELD_HELP.remote) })
      .optional()
      .describe(FIELD_HELP.cache),
  })
  .meta({ title: "tug.yaml", description: "tug project file: images to build and where to push them" });

/** Top-level keys with this prefix are ignored (as in compose files), so YAML anchors for shared settings have a home. */
export const EXTENSION_PREFIX = "x-";

/** Top-level keys reserved for features this version does not have yet. */
export const RESERVED_KEYS: readonly string[] = [];

/** tug.yaml after validation, before paths and references are resolved. */
export type TugFile = z.output<typeof TugFileSchema>;
export type RawImageTarget = z.output<typeof ImageTargetSchema>;
export type RawLambdaTarget = z.output<typeof LambdaTargetSchema>;
export type RawLayer = z.output<typeof LayerSchema>;
