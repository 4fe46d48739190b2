import { stat } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve } from "node:path";

export const PROJECT_FILES = ["tug.yaml", "tug.yml"] as const;

/** The path to show in messages: relative to the working directory when it is inside it. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
}

export async function isDirectory(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

export async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isFile() ?? false;
}

/** tug.yaml or tug.yml in `dir`, or undefined when there is neither. */
export async function findProject(dir: string): Promise<string | undefined> {
  for (const name of PROJECT_FILES) {
    const file = resolve(dir, name);
    if (await isFile(file)) return file;
  }
  return undefined;
}

/**
 * The project file for `dir`: tug.yaml (or tug.yml) in it or the nearest parent that has one,
 * like git looks for .git; undefined at the filesystem root without one.
 */
export async function findProjectUp(dir: string): Promise<string | undefined> {
  let at = resolve(dir);
  for (;;) {
    const file = await findProject(at);
    if (file) return file;
    const parent = dirname(at);
    if (parent === at) return undefined;
    at = parent;
  }
}
