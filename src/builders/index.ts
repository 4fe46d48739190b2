import type { ImageTarget } from "../config/types.ts";
import { DEFAULT_IGNORE, type IgnoreSettings } from "../engine/ignore-rules.ts";
import type { Builder } from "./builder.ts";
import type { BuilderName } from "./builder-schema.ts";
import { commandBuilder } from "./command.ts";
import { commandDev } from "./command-dev.ts";
import { filesBuilder } from "./files.ts";
import { filesDev } from "./files-dev.ts";
import { goBuilder } from "./go.ts";
import { goDev } from "./go-dev.ts";
import { nodeBuilder } from "./node.ts";
import { nodeDev } from "./node-dev.ts";
import { pythonBuilder } from "./python.ts";
import { pythonDev } from "./python-dev.ts";

type TargetOf<K extends BuilderName> = Extract<ImageTarget, { builder: K }>;

// One line per builder: its plan and its dev hooks. Its tug.yaml fragment (NAME-schema.ts) is
// listed in schemas.ts instead: loading tug.yaml must not load plans, and a build (whose project
// may come from the config cache) must not load zod. Adding a builder: its modules
// (NAME-schema.ts, NAME.ts, NAME-dev.ts), its target type in config/types.ts, a line here and
// one in schemas.ts; tsc refuses a name missing from either table.
const builders: { [K in BuilderName]: Builder<TargetOf<K>> } = {
  go: { ...goBuilder, dev: goDev },
  node: { ...nodeBuilder, dev: nodeDev },
  files: { ...filesBuilder, dev: filesDev },
  command: { ...commandBuilder, dev: commandDev },
  python: { ...pythonBuilder, dev: pythonDev },
};

export function builderFor<T extends ImageTarget>(target: T): Builder<T> {
  return builders[target.builder] as unknown as Builder<T>;
}

/** The ignore settings a target's context is read with (loadProject always sets them). */
export function ignoreSettings(target: ImageTarget): IgnoreSettings {
  return target.ignore ?? builderFor(target).defaultIgnore ?? DEFAULT_IGNORE;
}

/** Every registered builder by name, in registration order, for checks that each one is complete. */
export function registeredBuilders(): Array<{ name: BuilderName; builder: Builder }> {
  return Object.entries(builders).map(([name, builder]) => ({
    name: name as BuilderName,
    builder: builder as unknown as Builder,
  }));
}
