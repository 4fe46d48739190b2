import { stat } from "node:fs/promises";

export type PathKind = "file" | "dir" | "none";

/** What is at `path` now: the kind an import probe recorded, checked again on the fast path. */
export async function pathKind(path: string): Promise<PathKind> {
  const st = await stat(path).catch(() => undefined);
  return st?.isFile() ? "file" : st?.isDirectory() ? "dir" : "none";
}
