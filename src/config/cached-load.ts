import { resolve } from "node:path";
import { CacheStore } from "../engine/cache-store.ts";
import { sha256 } from "../oci/digest.ts";
import { hasIndexLogin } from "../python/index-urls.ts";
import { readBoundedFile } from "../util/bounded-file.ts";
import { writingTo } from "../util/io-error.ts";
import type { Project } from "./types.ts";
import { YAML_LIMITS } from "./yaml-limits.ts";

/** Bump when Project's shape or the loading rules change: older records then miss. */
const PROJECT_FORMAT = 3;

// Set by scripts/build.mjs to a hash of the sources, so a rebuilt tug never reads a project
// parsed by older code; running from source (tsx) relies on PROJECT_FORMAT alone.
declare const __TUG_BUILD__: string | undefined;
const BUILD_ID = typeof __TUG_BUILD__ === "string" ? __TUG_BUILD__ : "source";

/**
 * loadProject with its result remembered per (file, content, working directory, arch): a warm
 * `tug build` then neither parses YAML nor loads the validator (zod + yaml are ~1 MB of code,
 * a fifth of a no-op build's time). Any change to tug.yaml changes the key.
 */
export async function cachedProject(file: string, cacheDir: string): Promise<Project> {
  const abs = resolve(file);
  const load = async () => (await import("./load.ts")).loadProject(abs);
  // Bounded like loadProject's read: a 50 MB tug.yaml is refused, not read and hashed first.
  const text = await readBoundedFile(abs, YAML_LIMITS.bytes, "tug.yaml").catch(() => undefined);
  if (!text) return load(); // loadProject reports the problem
  const store = new CacheStore(cacheDir);
  const key = [PROJECT_FORMAT, BUILD_ID, abs, sha256(text), process.cwd(), process.arch].join("|");
  const hit = await store.getRecord<Project>("project", key);
  if (hit) return hit;
  const project = await load();
  // A password written into python.index_url stays in tug.yaml: the cache never holds a copy.
  const python = project.python;
  if (python && hasIndexLogin([python.indexUrl, ...python.extraIndexUrls])) return project;
  await writingTo({ path: cacheDir, writing: "the parsed project into tug's cache" }, () =>
    store.putRecord("project", key, project),
  );
  return project;
}
