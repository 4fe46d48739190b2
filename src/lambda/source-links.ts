import { lstat, readlink, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { TugError } from "../errors.ts";

export interface SourceGuardOptions {
  /** The directory holding tug.yaml. */
  projectDir: string;
  /** python.source_roots: directories the user named as first-party, inside the project or not. */
  sourceRoots?: readonly string[];
  /** The target, for messages (`lambdas.fn (tug.yaml:12)`). */
  where: string;
}

/** Whether `path` is `dir` or below it (both absolute and normalised). */
export function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * A check to run before a first-party source file is read: the file, or a directory on its way
 * from the project (the handler, a module, a package on the import path), must not be a symbolic
 * link that leads outside the project, as image build contexts refuse (source-tree.ts). A link
 * is how a checkout smuggles `~/.aws/credentials` or `/etc/shadow` into a zip that gets uploaded.
 * Links that stay inside the project (or inside a configured source root) keep working. The file
 * must also be a regular file: reading a FIFO or a device would hang or never end.
 * Memoised per path: a closure reads each file once, but many share directories.
 */
export function sourceGuard(opts: SourceGuardOptions): (file: string) => Promise<void> {
  const projectDir = resolve(opts.projectDir);
  const roots = [projectDir, ...(opts.sourceRoots ?? []).map((r) => resolve(projectDir, r))];
  let allowed: Promise<string[]> | undefined;
  const checked = new Map<string, Promise<void>>();
  const allowedReal = () => {
    allowed ??= Promise.all(roots.map((r) => realpath(r).catch(() => r)));
    return allowed;
  };
  const check = async (file: string): Promise<void> => {
    const real = await realpath(file).catch(() => undefined);
    // Missing: the caller's own read reports it as before.
    if (real === undefined) return;
    const inside = await allowedReal();
    if (!inside.some((dir) => isInside(real, dir)))
      await refuseLink(file, roots, inside, projectDir, opts.where);
    const st = await stat(real);
    if (!st.isFile()) {
      throw new TugError({
        what: `${shown(file, projectDir)} is not a regular file`,
        where: opts.where,
        hint: "lambda sources must be regular files (not a pipe, socket or device)",
      });
    }
  };
  return (file: string) => {
    let done = checked.get(file);
    if (!done) {
      done = check(resolve(file));
      checked.set(file, done);
    }
    return done;
  };
}

/**
 * Finds the link on the way to `file` that leads outside and throws naming it and its target.
 * A file outside every root with no link on its way (a source root outside the project, a
 * relative import above it) is the configuration's doing, not a link's, and is left alone.
 */
async function refuseLink(
  file: string,
  roots: readonly string[],
  inside: readonly string[],
  projectDir: string,
  where: string,
): Promise<void> {
  const abs = resolve(file);
  const base = roots.filter((r) => isInside(abs, r)).sort((a, b) => b.length - a.length)[0];
  if (base === undefined) return;
  let at = base;
  for (const part of relative(base, abs).split(sep)) {
    at = join(at, part);
    const st = await lstat(at);
    if (!st.isSymbolicLink()) continue;
    const target = await realpath(at);
    if (inside.some((dir) => isInside(target, dir))) continue;
    const linkname = await readlink(at);
    throw new TugError({
      what: `symlink ${shown(at, projectDir)} points outside the project (to ${linkname})`,
      where,
      hint: "copy the file into the project, or make the symlink point inside it",
    });
  }
}

function shown(path: string, projectDir: string): string {
  const rel = relative(projectDir, path);
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel.split(sep).join("/");
}
