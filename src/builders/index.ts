import type { ImageTarget } from "../config/types.ts";
import type { Builder } from "./builder.ts";
import type { BuilderName, BuilderSchema } from "./builder-schema.ts";
import { commandBuilder } from "./command.ts";
import { commandDev } from "./command-dev.ts";
import { commandSchema } from "./command-schema.ts";
import { filesBuilder } from "./files.ts";
import { filesDev } from "./files-dev.ts";
import { filesSchema } from "./files-schema.ts";
import { goBuilder } from "./go.ts";
import { goDev } from "./go-dev.ts";
import { goSchema } from "./go-schema.ts";
import { nodeBuilder } from "./node.ts";
import { nodeDev } from "./node-dev.ts";
import { nodeSchema } from "./node-schema.ts";
import { pythonBuilder } from "./python.ts";
import { pythonDev } from "./python-dev.ts";
import { pythonSchema } from "./python-schema.ts";

type TargetOf<K extends BuilderName> = Extract<ImageTarget, { builder: K }>;

/** A builder as registered: its tug.yaml fragment, its plan and its dev hooks. */
export type RegisteredBuilder<K extends BuilderName = BuilderName> = Builder<TargetOf<K>> &
  Pick<BuilderSchema<K>, "name" | "schema">;

// One line per builder: its tug.yaml fragment (also listed, alone, in schemas.ts: loading
// tug.yaml must not load plans), its plan and its dev hooks. Adding a builder: its modules
// (NAME-schema.ts, NAME.ts, NAME-dev.ts), its target type in config/types.ts, a line here and
// one in schemas.ts.
const builders: { [K in BuilderName]: RegisteredBuilder<K> } = {
  go: { ...goSchema, ...goBuilder, dev: goDev },
  node: { ...nodeSchema, ...nodeBuilder, dev: nodeDev },
  files: { ...filesSchema, ...filesBuilder, dev: filesDev },
  command: { ...commandSchema, ...commandBuilder, dev: commandDev },
  python: { ...pythonSchema, ...pythonBuilder, dev: pythonDev },
};

export function builderFor<T extends ImageTarget>(target: T): Builder<T> {
  return builders[target.builder] as unknown as Builder<T>;
}

/** Every registered builder, for checks that each one is complete. */
export function registeredBuilders(): RegisteredBuilder[] {
  return Object.values(builders) as RegisteredBuilder[];
}
