import { promises as fs } from "node:fs";
import { resolve } from "node:path";
import { cachedProject } from "../config/cached-load.ts";
import { findProject } from "../config/find.ts";
import { effectiveRepo } from "../config/repo.ts";
import type { Project } from "../config/types.ts";
import { defaultCacheDir } from "../engine/cache-store.ts";
import { cli } from "./context.ts";
import { isHandlerArg, type LambdaFlags, withHandlerLambdas, withIndexUrl } from "./handler-args.ts";

export interface ProjectArgs extends LambdaFlags {
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
  const handlerArgs: string[] = [];
  for (const a of args) if (await isHandlerArg(a)) handlerArgs.push(a);
  let targets = args.filter((a) => !handlerArgs.includes(a));
  let dir = cli.cwd();
  if (!opts.file && args.length === 1 && (await isDir(args[0]!))) {
    dir = resolve(args[0]!);
    targets = [];
  }
  const file = opts.file ?? (await findProject(dir));
  let project: Project;
  if (file) project = await cachedProject(file, defaultCacheDir());
  else if (handlerArgs.length > 0) project = { file: undefined, dir, targets: [] };
  else project = await (await import("../config/detect.ts")).detectProject(dir);
  if (handlerArgs.length > 0) {
    const added = await withHandlerLambdas(project, handlerArgs, opts);
    project = added.project;
    targets = [...targets, ...added.names];
  }
  project = await withIndexUrl(project, opts.indexUrl);
  return { project, targets, repo: effectiveRepo(project, opts.repo, cli.env) };
}

async function isDir(p: string): Promise<boolean> {
  if (!p.includes("/") && p !== ".") return false; // a bare word is a target name
  return fs.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
