import { promises as fs } from "node:fs";
import { resolve } from "node:path";
import { detectProject, effectiveRepo, findProject, loadProject } from "../config/index.ts";
import type { Project } from "../config/types.ts";

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
  let project: Project | undefined;
  let targets = args;
  if (opts.file) project = await loadProject(opts.file);
  else if (args.length === 1 && (await isDir(args[0]!))) {
    const file = await findProject(resolve(args[0]!));
    project = file ? await loadProject(file) : await detectProject(args[0]!);
    targets = [];
  } else {
    const file = await findProject(process.cwd());
    project = file ? await loadProject(file) : await detectProject(process.cwd());
  }
  return { project, targets, repo: effectiveRepo(project, opts.repo, process.env) };
}

async function isDir(p: string): Promise<boolean> {
  if (!p.includes("/") && p !== ".") return false; // a bare word is a target name
  return fs.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
