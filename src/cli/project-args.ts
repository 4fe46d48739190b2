import { promises as fs } from "node:fs";
import { resolve } from "node:path";
import { cachedProject } from "../config/cached-load.ts";
import { findProject } from "../config/find.ts";
import { effectiveRepo } from "../config/repo.ts";
import type { Project } from "../config/types.ts";
import { defaultCacheDir } from "../engine/cache-store.ts";

export interface ProjectArgs {
  file?: string;
  repo?: string;
}

/**
 * Finds the project: --file, else tug.yaml in the current directory, else zero-config on a
 * directory argument (`tug build ./svc`). Remaining arguments are target names.
 */
export async function projectFromArgs(
  args: string[],
  opts: ProjectArgs,
): Promise<{ project: Project; targets: string[]; repo?: string }> {
  let targets = args;
  let dir = process.cwd();
  if (!opts.file && args.length === 1 && (await isDir(args[0]!))) {
    dir = resolve(args[0]!);
    targets = [];
  }
  const file = opts.file ?? (await findProject(dir));
  const project = file
    ? await cachedProject(file, defaultCacheDir())
    : await (await import("../config/detect.ts")).detectProject(dir);
  return { project, targets, repo: effectiveRepo(project, opts.repo, process.env) };
}

async function isDir(p: string): Promise<boolean> {
  if (!p.includes("/") && p !== ".") return false; // a bare word is a target name
  return fs.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
