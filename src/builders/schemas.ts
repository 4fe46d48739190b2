// The tug.yaml fragment of every builder, one line each, in the order schema/tug.schema.json
// lists them. Loaded with the config, so it names only the small `*-schema.ts` modules; each
// builder's plan and dev hooks are registered in index.ts (tsc refuses a name missing there).
import type { ImageTarget } from "../config/types.ts";
import { commandSchema } from "./command-schema.ts";
import { filesSchema } from "./files-schema.ts";
import { goSchema } from "./go-schema.ts";
import { nodeSchema } from "./node-schema.ts";
import { pythonSchema } from "./python-schema.ts";

export const BUILDER_SCHEMAS = [goSchema, nodeSchema, filesSchema, commandSchema, pythonSchema] as const;

// Every target type of config/types.ts has a fragment here (a missing one fails to compile).
type Unlisted = Exclude<ImageTarget["builder"], (typeof BUILDER_SCHEMAS)[number]["name"]>;
const everyBuilderListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyBuilderListed;
