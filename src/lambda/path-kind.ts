import { readdir, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";

export type PathKind = "file" | "dir" | "none";

/** A probe path meaning "any .py file in this directory": "file" when there is one, else "none". */
export const PYTHON_FILES = "*.py";

/** What is at `path` now: the kind an import probe recorded, checked again on the fast path. */
export async function pathKind(path: string): Promise<PathKind> {
  if (basename(path) === PYTHON_FILES) {
    const names = await readdir(dirname(path)).catch(() => [] as string[]);
    return names.some((n) => n.endsWith(".py")) ? "file" : "none";
  }
  const st = await stat(path).catch(() => undefined);
  return st?.isFile() ? "file" : st?.isDirectory() ? "dir" : "none";
}
