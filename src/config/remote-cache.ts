import { TugError } from "../errors.ts";
import type { Project } from "./types.ts";

export type RemoteCacheMode = "read" | "readwrite" | "off";

/**
 * The shared cache to use: its URL from `TUG_REMOTE_CACHE`, else tug.yaml's `cache.remote`;
 * its mode from `--remote-cache`, else `TUG_REMOTE_CACHE_MODE`, else readwrite.
 * Undefined when no URL is set or the mode is off.
 */
export function remoteCacheSetting(
  project: Pick<Project, "cache">,
  flagMode: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): { url: string; mode: Exclude<RemoteCacheMode, "off"> } | undefined {
  const url = env.TUG_REMOTE_CACHE || project.cache?.remote;
  const mode = flagMode ?? env.TUG_REMOTE_CACHE_MODE ?? "readwrite";
  if (mode !== "read" && mode !== "readwrite" && mode !== "off") {
    throw new TugError({
      what: `unknown remote cache mode "${mode}"`,
      where: flagMode ? "--remote-cache" : "TUG_REMOTE_CACHE_MODE",
      hint: "use read, readwrite or off",
    });
  }
  if (!url || mode === "off") return undefined;
  return { url, mode };
}
