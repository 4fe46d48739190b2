import { isAbsolute, relative, sep } from "node:path";
import { TugError } from "../errors.ts";

/**
 * The root a first-party file is packed under: the longest of the source roots that holds it,
 * else the project directory (Pants semantics: `lambdas/logs.py` under the source root `lambdas`
 * is the module `logs`, so the zip holds it as `logs.py`). Undefined when no root holds it.
 */
export function rootOf(file: string, projectDir: string, sourceRoots: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const root of [projectDir, ...sourceRoots]) {
    const rel = relative(root, file);
    if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) continue;
    if (best === undefined || root.length > best.length) best = root;
  }
  return best;
}

/** `file`'s name inside the zip: relative to its root, "/"-separated. */
export function zipNameOf(file: string, projectDir: string, sourceRoots: readonly string[]): string {
  const root = rootOf(file, projectDir, sourceRoots) ?? projectDir;
  return relative(root, file).split(sep).join("/");
}

/**
 * The zip names of first-party files. Two files that land on one name (`lambdas/util.py` under the
 * source root `lambdas` and `util.py` at the project root) are an error naming both: only one of
 * them could be imported on Lambda, and which one depends on sys.path order.
 */
export function firstPartyZipNames(
  files: readonly string[],
  projectDir: string,
  sourceRoots: readonly string[],
  where: string,
): Map<string, string> {
  const names = new Map<string, string>();
  const byName = new Map<string, string>();
  const shown = (f: string) => relative(projectDir, f).split(sep).join("/");
  for (const file of files) {
    const name = zipNameOf(file, projectDir, sourceRoots);
    const other = byName.get(name);
    if (other !== undefined && other !== file) {
      throw new TugError({
        what: `${shown(other)} and ${shown(file)} would both be ${name} in the zip (source roots strip their directory)`,
        where,
        hint: "rename one of them, or change python.source_roots so that each module has one home",
      });
    }
    byName.set(name, file);
    names.set(file, name);
  }
  return names;
}
