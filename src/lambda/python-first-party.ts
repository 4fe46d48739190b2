import type { PythonLambdaTarget } from "../config/types.ts";
import { type Closure, firstPartyClosure } from "../python/imports.ts";
import type { OutputRecord } from "./output-record.ts";
import type { PythonContext } from "./python-context.ts";
import { includedFiles, packageDataFiles, type WalkedFiles } from "./python-package-files.ts";

export interface FirstPartyFiles {
  /** The import closure, `include:`d modules among its entries. */
  closure: Closure;
  /** Files zipped as they are: package data and non-Python `include:` matches, sorted. */
  data: string[];
  /** What decided which files those are, for the no-op record. */
  walked: WalkedFiles;
}

/**
 * Everything first-party a lambda's zip holds, as `pip install .` and a zip of it would: the
 * handler's import closure (parent packages' `__init__.py` included), the data files inside the
 * packages it imports, and what `include:` names for what no import shows (importlib by a
 * computed name, files read by path). Included `.py` files are modules: their imports count too.
 */
export async function firstPartyFiles(
  target: PythonLambdaTarget,
  ctx: Pick<PythonContext, "project" | "settings">,
  read: (path: string) => Promise<Buffer>,
): Promise<FirstPartyFiles> {
  const { project, settings } = ctx;
  const included = target.include.length
    ? await includedFiles({ patterns: target.include, projectDir: project.dir, where: target.where })
    : undefined;
  const closure = await firstPartyClosure(target.handlerFile, project.dir, {
    minor: target.runtime.python[1],
    sourceRoots: settings.sourceRoots,
    read,
    extraEntries: included?.files.filter((f) => f.endsWith(".py")) ?? [],
  });
  const packageData = await packageDataFiles({
    modules: closure.files,
    projectDir: project.dir,
    where: target.where,
  });
  const modules = new Set(closure.files);
  const data = [
    ...new Set([...(included?.files.filter((f) => !f.endsWith(".py")) ?? []), ...packageData.files]),
  ]
    .filter((f) => !modules.has(f))
    .sort();
  const walked: WalkedFiles = {
    files: data,
    dirs: { ...included?.dirs, ...packageData.dirs },
    ignoreFiles: { ...included?.ignoreFiles, ...packageData.ignoreFiles },
  };
  return { closure, data, walked };
}

/** The closure's probes, and each ignore file that was absent (one added later changes the zip). */
export function walkedProbes(closure: Closure, walked: WalkedFiles): OutputRecord["probes"] {
  const probes: OutputRecord["probes"] = Object.fromEntries(closure.probes);
  for (const [f, sha] of Object.entries(walked.ignoreFiles)) if (sha === undefined) probes[f] = "none";
  return probes;
}
