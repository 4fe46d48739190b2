import type { FilesTarget } from "../config/types.ts";
import type { BuilderDev } from "./builder.ts";

/** files under `tug dev`: the context is synced to `dest` as it is. */
export const filesDev: BuilderDev<FilesTarget> = {
  syncPath: (target, path) => `${target.dest.replace(/\/+$/, "")}/${path}`,
};
