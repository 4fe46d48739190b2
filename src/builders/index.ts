import type { ImageTarget } from "../config/types.ts";
import type { Builder } from "./builder.ts";
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

type BuilderOf<K extends ImageTarget["builder"]> = Builder<Extract<ImageTarget, { builder: K }>>;

// One line per builder: its plan and its dev hooks.
const builders: { [K in ImageTarget["builder"]]: BuilderOf<K> } = {
  go: { ...goBuilder, dev: goDev },
  node: { ...nodeBuilder, dev: nodeDev },
  files: { ...filesBuilder, dev: filesDev },
  command: { ...commandBuilder, dev: commandDev },
  python: { ...pythonBuilder, dev: pythonDev },
};

export function builderFor<T extends ImageTarget>(target: T): Builder<T> {
  return builders[target.builder] as unknown as Builder<T>;
}
