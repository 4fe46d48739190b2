import { promises as fs } from "node:fs";
import { basename, extname, relative, resolve } from "node:path";
import type { Command } from "commander";
import type { Project } from "../config/types.ts";
import { TugError } from "../errors.ts";

/** `--runtime`, `--architecture`, `--glibc`: the target of a lambda named on the command line. */
export interface LambdaFlags {
  runtime?: string;
  architecture?: string;
  glibc?: string;
  /** Overrides python.index_url (and TUG_INDEX_URL). */
  indexUrl?: string;
}

/** The flags that give a FILE:FUNCTION argument its runtime (for `build` and `invoke`). */
export function addLambdaFlags(cmd: Command): Command {
  return cmd
    .option(
      "--runtime <runtime>",
      "for a FILE:FUNCTION argument: python3.9 … python3.14, nodejs18.x … nodejs22.x",
    )
    .option("--architecture <arch>", "for a FILE:FUNCTION argument: x86_64 (default) or arm64")
    .option(
      "--glibc <version>",
      'for a FILE:FUNCTION argument: override the runtime\'s glibc ceiling, e.g. "2.28"',
    )
    .option(
      "--index-url <url>",
      "Python package index for lambdas (over python.index_url and TUG_INDEX_URL)",
    );
}

const HANDLER = /^(.+\.(?:py|ts|tsx|mts|cts|js|jsx|mjs|cjs)):([A-Za-z_$][A-Za-z0-9_$]*)$/;

/** Whether `arg` reads as FILE:FUNCTION for a file that exists (`lambdas/echo.py:handler`). */
export async function isHandlerArg(arg: string): Promise<boolean> {
  const m = HANDLER.exec(arg);
  if (!m) return false;
  return fs.stat(m[1] as string).then(
    (s) => s.isFile(),
    () => false,
  );
}

/**
 * Adds a lambda for each FILE:FUNCTION argument to `project` (zero-config: `tug build
 * lambdas/echo.py:handler --runtime python3.12 --architecture arm64`), named after the file, with
 * the project's `python:` settings when it has a tug.yaml and the defaults otherwise. Returns the
 * project and the target names the arguments stand for.
 */
export async function withHandlerLambdas(
  project: Project,
  handlerArgs: string[],
  flags: LambdaFlags,
): Promise<{ project: Project; names: string[] }> {
  const { toLambdaTarget, toPythonSettings } = await import("../config/lambda-target.ts");
  const lambdas = [...(project.lambdas ?? [])];
  const names: string[] = [];
  for (const arg of handlerArgs) {
    const [, file = "", fn = ""] = HANDLER.exec(arg) ?? [];
    const abs = resolve(file);
    const rel = relative(project.dir, abs).split("\\").join("/");
    if (rel.startsWith("..")) {
      throw new TugError({
        what: `handler file ${file} is outside the project directory ${project.dir}`,
        where: arg,
        hint: "run tug from a directory that contains the handler (it becomes the zip's root)",
      });
    }
    const name = basename(abs, extname(abs))
      .toLowerCase()
      .replace(/[^a-z0-9._-]/g, "-");
    const runtime = flags.runtime ?? (extname(abs) === ".py" ? "python3.12" : "nodejs20.x");
    const architecture = flags.architecture ?? "x86_64";
    if (architecture !== "x86_64" && architecture !== "arm64") {
      throw new TugError({
        what: `--architecture ${architecture} is not a Lambda architecture`,
        where: "--architecture",
        hint: "use x86_64 or arm64",
      });
    }
    const raw = {
      runtime,
      architecture: architecture as "x86_64" | "arm64",
      handler: `${rel}:${fn}`,
      ...(flags.glibc === undefined ? {} : { glibc: flags.glibc }),
    };
    const target = toLambdaTarget(
      name,
      raw,
      project.dir,
      `${arg} (command line)`,
      project.python?.sourceRoots,
    );
    const at = lambdas.findIndex((l) => l.name === name);
    if (at >= 0) lambdas[at] = target;
    else lambdas.push(target);
    names.push(name);
  }
  return {
    project: { ...project, lambdas, python: project.python ?? toPythonSettings(undefined, project.dir) },
    names,
  };
}

/** `--index-url` over the project's python.index_url (lambdas and layers only read it). */
export async function withIndexUrl(project: Project, indexUrl: string | undefined): Promise<Project> {
  if (indexUrl === undefined || (!project.lambdas?.length && !project.layers?.length)) return project;
  const { toPythonSettings } = await import("../config/lambda-target.ts");
  return {
    ...project,
    python: { ...(project.python ?? toPythonSettings(undefined, project.dir)), indexUrl },
  };
}
