// tug.yaml's `builder: files` keys and their normalising; the plan is files.ts.
import { z } from "zod";
import { FIELD_HELP } from "../config/field-help.ts";
import { absolutePath, imageFields } from "../config/image-fields.ts";
import { builderSchema } from "./builder-schema.ts";

const FilesImage = z.strictObject({
  builder: z.literal("files").describe(FIELD_HELP.builder),
  ...imageFields,
  dest: absolutePath("dest").describe(FIELD_HELP.dest),
});

export const filesSchema = builderSchema({
  name: "files",
  schema: FilesImage,
  normalise: (raw, common) => ({ ...common, builder: "files", dest: raw.dest }),
});
