// tug.yaml's `builder: node` keys and their normalising; the plan is node.ts.
import { join, relative, resolve } from "node:path";
import { z } from "zod";
import { FIELD_HELP } from "../config/field-help.ts";
import { isFile } from "../config/find.ts";
import { Args, imageFields, relativePath } from "../config/image-fields.ts";
import { builderSchema } from "./builder-schema.ts";

const NodeImage = z.strictObject({
  builder: z.literal("node").describe(FIELD_HELP.builder),
  ...imageFields,
  entry: relativePath("entry").describe(FIELD_HELP.entry),
  external: Args.default([]).describe(FIELD_HELP.external),
  node: z
    .union([z.string().regex(/^[0-9]+(\.[0-9]+){0,2}$/), z.int().min(1)], {
      error: 'expected a Node.js version like "20"',
    })
    .default("20")
    .describe(FIELD_HELP.node),
  bundle: z.boolean().default(true).describe(FIELD_HELP.bundle),
});

export const nodeSchema = builderSchema({
  name: "node",
  schema: NodeImage,
  // A Node bundle never starts on scratch, and a registry default (distroless) would make the
  // first build need the internet (and distroless nodejs has no node on PATH, where the bundle's
  // `node /app/index.mjs` looks): host:node runs anywhere node runs, offline; a registry
  // deployment names its Node base (README: Bases).
  defaultBase: "host:node",
  inputProblem: async (t, dir) =>
    (await isFile(join(t.context, t.entry)))
      ? undefined
      : {
          key: "entry",
          what: `entry ${t.entry} does not exist in ${relative(dir, t.context) || "."}`,
          hint: "entry is relative to the target's context",
        },
  normalise: (raw, common) => ({
    ...common,
    builder: "node",
    entry: relative(common.context, resolve(common.context, raw.entry)).split("\\").join("/"),
    external: raw.external,
    node: String(raw.node),
    bundle: raw.bundle,
  }),
});
