import { join, relative, sep } from "node:path";
import type { PythonImageTarget } from "../config/types.ts";
import { zipNameOf } from "../python/source-roots.ts";
import type { BuilderDev } from "./builder.ts";

/**
 * python under `tug dev`: sources are the app layer as they are, so a copy into /app (source
 * roots stripped) and a restart is the whole update; the requirements file means new wheels.
 */
export const pythonDev: BuilderDev<PythonImageTarget> = {
  dependencyFiles(target) {
    const named =
      target.requirements === undefined
        ? []
        : [relative(target.context, target.requirements).split(sep).join("/")];
    return ["requirements.txt", "pyproject.toml", "uv.lock", ...named.filter((r) => !r.startsWith(".."))];
  },
  syncPath: (target, path) =>
    `/app/${zipNameOf(join(target.context, path), target.context, target.sourceRoots)}`,
};
