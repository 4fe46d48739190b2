import type { ImageTarget } from "../config/types.ts";
import type { Builder } from "./builder.ts";
import { commandBuilder } from "./command.ts";
import { filesBuilder } from "./files.ts";
import { goBuilder } from "./go.ts";
import { nodeBuilder } from "./node.ts";
import { pythonBuilder } from "./python.ts";

const builders: Record<ImageTarget["builder"], Builder> = {
  go: goBuilder,
  node: nodeBuilder,
  files: filesBuilder,
  command: commandBuilder,
  python: pythonBuilder,
};

export function builderFor(target: ImageTarget): Builder {
  return builders[target.builder];
}
