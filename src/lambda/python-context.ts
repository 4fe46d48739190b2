import type { Project, PythonSettings } from "../config/types.ts";
import type { CacheStore } from "../engine/cache-store.ts";
import type { SimpleIndex } from "../python/index-client.ts";
import type { ProvenanceContext } from "../sbom/image-provenance.ts";
import type { SbomFormat } from "../sbom/sbom-model.ts";
import type { PreviousOutput, ZipMemo } from "./planned-zip.ts";

/** What every Python lambda and layer of one build shares. */
export interface PythonContext {
  project: Project;
  settings: PythonSettings;
  /**
   * index_url then extra_index_urls, as used (index-urls.ts has the precedence). Keys hold them
   * without `user:password@` (indexUrlsForKeys); only the index client sees a login.
   */
  indexUrls: readonly string[];
  /**
   * The indexes really used when the requirements file names some (`--index-url` in it): locks
   * are keyed by these. Output keys keep `indexUrls`: the file's bytes are already an input.
   */
  resolveIndexUrls?: readonly string[];
  index: Pick<SimpleIndex, "projectFiles" | "metadata" | "wheelPath">;
  /** Records (locks, wheel tables, outputs); without one nothing is cached. */
  store?: CacheStore;
  /** Directory that receives `NAME.zip` and `NAME.zip.json` of lambdas (…/lambdas). */
  outDir: string;
  /** `--sbom`: the document written beside each zip (and part of its key). */
  sbom: SbomFormat;
  /** `--provenance`: an SLSA statement beside each zip (and part of its key). */
  provenance?: ProvenanceContext | undefined;
  /**
   * What this build's no-op check already found for each zip path (the last build's record and
   * whether its zip is still there), so that planning does not read and hash it all again.
   */
  checked?: ReadonlyMap<string, PreviousOutput> | undefined;
  /** What a resident process keeps between builds (the zips' head hashes). */
  zipMemo?: ZipMemo | undefined;
}
