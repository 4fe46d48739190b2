import { promises as fs } from "node:fs";
import { resolve } from "node:path";
import { baseProblem, parseBase } from "../config/base.ts";
import { cachedProject } from "../config/cached-load.ts";
import { findProject, findProjectUp } from "../config/find.ts";
import { effectiveRepo } from "../config/repo.ts";
import type { Project } from "../config/types.ts";
import { defaultCacheDir } from "../engine/cache-store.ts";
import { TugError } from "../errors.ts";
import { type ConfigFlags, configFileOf } from "./config-option.ts";
import { cli } from "./context.ts";
import { isHandlerArg, type LambdaFlags, withHandlerLambdas, withIndexUrl } from "./handler-args.ts";

export interface ProjectArgs extends LambdaFlags, ConfigFlags {
  repo?: string;
  /** `--base REF`: the base of a zero-config image (`tug build ./dir --base …`). */
  base?: string;
}

export const NO_PROJECT_HINT = "`tug init` writes one, or `tug build ./dir` builds a directory zero-config";

/**
 * Finds the project: -c/--config, else a directory argument (its own tug.yaml, else zero-config:
 * `tug build ./svc`), else tug.yaml in the working directory or its nearest parent (like git).
 * Without any, only FILE:FUNCTION arguments can be built; anything else is an error, never a
 * silent zero-config build of the working directory. Remaining arguments are target names.
 */
export async function projectFromArgs(
  args: string[],
  opts: ProjectArgs,
): Promise<{ project: Project; targets: string[]; repo?: string }> {
  const handlerArgs: string[] = [];
  for (const a of args) if (await isHandlerArg(a)) handlerArgs.push(a);
  let targets = args.filter((a) => !handlerArgs.includes(a));
  const config = configFileOf(opts);
  let project: Project | undefined;
  if (config === undefined && args.length === 1 && (await isDir(args[0]!))) {
    const dir = resolve(args[0]!);
    targets = [];
    const own = await findProject(dir);
    if (own) project = await cachedProject(own, defaultCacheDir());
    else project = withBase(await (await import("../config/detect.ts")).detectProject(dir), opts.base);
  }
  if (!project) {
    const file = config === undefined ? await findProjectUp(cli.cwd()) : resolve(config);
    if (file) project = await cachedProject(file, defaultCacheDir());
    else if (handlerArgs.length > 0) project = { file: undefined, dir: cli.cwd(), targets: [] };
    else
      throw new TugError({
        what: "no tug.yaml here or above",
        where: cli.cwd(),
        hint: NO_PROJECT_HINT,
      });
  }
  if (opts.base !== undefined && project.file !== undefined) {
    throw new TugError({
      what: "--base is for zero-config builds of a directory without tug.yaml",
      where: project.file,
      hint: "set base: on the image in tug.yaml",
    });
  }
  if (handlerArgs.length > 0) {
    const added = await withHandlerLambdas(project, handlerArgs, opts);
    project = added.project;
    targets = [...targets, ...added.names];
  }
  project = await withIndexUrl(project, opts.indexUrl);
  return { project, targets, repo: effectiveRepo(project, opts.repo, cli.env) };
}

/** A zero-config project with `--base REF` as its image's base. */
function withBase(project: Project, base: string | undefined): Project {
  if (base === undefined) return project;
  const problem = baseProblem(base);
  if (problem !== undefined) {
    throw new TugError({
      what: typeof problem === "string" ? problem : problem.what,
      where: "--base",
      hint:
        typeof problem === "string"
          ? "e.g. --base docker.io/library/busybox:1.36, oci-layout:./bases/busybox or host:node"
          : problem.hint,
    });
  }
  if (base.startsWith("tug://")) {
    throw new TugError({
      what: "--base tug://NAME needs a tug.yaml that defines NAME",
      where: "--base",
      hint: "a zero-config build has one image; name a registry image, oci-layout:PATH or host:PROGRAM",
    });
  }
  return {
    ...project,
    targets: project.targets.map((t) => ({ ...t, base: parseBase(base, cli.cwd()) })),
  };
}

async function isDir(p: string): Promise<boolean> {
  if (!p.includes("/") && p !== ".") return false; // a bare word is a target name
  return fs.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
