// tug.yaml's `builder: command` keys and their normalising; the plan is command.ts.
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { FIELD_HELP } from "../config/field-help.ts";
import { Args, absolutePath, imageFields, relativePath } from "../config/image-fields.ts";
import { COMMAND_IGNORE } from "../engine/ignore-rules.ts";
import { builderSchema } from "./builder-schema.ts";

const CommandImage = z.strictObject({
  builder: z.literal("command").describe(FIELD_HELP.builder),
  ...imageFields,
  run: z
    .union([z.string().min(1), Args.min(1)], { error: "expected a shell string or a list of arguments" })
    .describe(FIELD_HELP.run),
  output: relativePath("output").describe(FIELD_HELP.output),
  dest: absolutePath("dest").default("/").describe(FIELD_HELP.dest),
  inputs: z.array(relativePath("inputs")).min(1).default(["."]).describe(FIELD_HELP.inputs),
});

export const commandSchema = builderSchema({
  name: "command",
  schema: CommandImage,
  // A command reads the context on the host, .env.local or node_modules included: with git's
  // rules its key would miss files it reads, so .gitignore applies to it only on request.
  defaultIgnore: COMMAND_IGNORE,
  normalise: (raw, common) => ({
    ...common,
    builder: "command",
    run: typeof raw.run === "string" ? ["sh", "-c", raw.run] : raw.run,
    output: isAbsolute(raw.output) ? raw.output : resolve(common.context, raw.output),
    dest: raw.dest,
    inputs: raw.inputs,
  }),
});
