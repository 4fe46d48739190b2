import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { isInside, jsonObjectStream } from "./packages.ts";

/**
 * Directories of the local modules a Go build in `context` compiles that lie outside it: the
 * targets of `replace … => ../dir` and the other modules of a go.work workspace. `tug dev` watches
 * them too (the build's inputs already include their files). Modules from the module cache are
 * left out: they do not change. Any failure of `go list` means "none": the build reports it.
 */
export async function outsideModuleDirs(
  context: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string[]> {
  const run = (args: string[]) =>
    new Promise<string>((done) =>
      execFile("go", args, { cwd: context, env, maxBuffer: 64 << 20 }, (err, stdout) =>
        done(err ? "" : stdout),
      ),
    );
  const [listed, modcache] = await Promise.all([
    run(["list", "-e", "-m", "-json", "all"]),
    run(["env", "GOMODCACHE"]),
  ]);
  const cache = modcache.trim();
  const dirs = new Set<string>();
  let modules: ListedModule[] = [];
  try {
    modules = jsonObjectStream<ListedModule>(listed);
  } catch {
    return [];
  }
  for (const m of modules) {
    const dir = m.Replace?.Dir ?? m.Dir;
    if (!dir) continue;
    const abs = resolve(context, dir);
    if (isInside(abs, context) || (cache && isInside(abs, cache))) continue;
    dirs.add(abs);
  }
  return [...dirs].sort();
}

interface ListedModule {
  Dir?: string;
  Replace?: { Dir?: string };
}
