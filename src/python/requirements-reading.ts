import { createHash } from "node:crypto";
import { isTugError, TugError } from "../errors.ts";
import { readBoundedFile } from "../util/bounded-file.ts";
import { normalizeName } from "./name.ts";

/** What every reader shares: how to name a file in messages, and the hashes of what was read. */
export interface Reading {
  /** The name messages (and FileRequirement.file) use for an absolute path. */
  show: (file: string) => string;
  fileHashes: Map<string, string>;
}

/** Requirements files and pyproject.toml are hand-written: 1 MiB is far beyond any real one. */
export const REQUIREMENTS_MAX_BYTES = 1 << 20;
/** uv.lock of a large workspace runs to a few MiB (every wheel of every version it locks). */
export const UV_LOCK_MAX_BYTES = 16 << 20;

/**
 * The file's text, its bytes' sha256 recorded in `fileHashes`; undefined when it cannot be read.
 * A file over `maxBytes` (a symlink to /dev/zero, a generated monster) is one error naming it.
 */
export async function tryReadText(
  file: string,
  r: Reading,
  maxBytes: number = REQUIREMENTS_MAX_BYTES,
): Promise<string | undefined> {
  const what = file.endsWith("uv.lock")
    ? "uv.lock"
    : file.endsWith("pyproject.toml")
      ? "pyproject.toml"
      : "requirements file";
  const data = await readBoundedFile(file, maxBytes, what, { shownPath: r.show(file) }).catch(
    (e: unknown) => {
      if (isTugError(e)) throw e;
      return undefined;
    },
  );
  if (data === undefined) return undefined;
  r.fileHashes.set(file, createHash("sha256").update(data).digest("hex"));
  return data.toString("utf8");
}

export async function readText(
  file: string,
  where: string,
  r: Reading,
  maxBytes: number = REQUIREMENTS_MAX_BYTES,
): Promise<string> {
  const text = await tryReadText(file, r, maxBytes);
  if (text !== undefined) return text;
  throw new TugError({
    what: `cannot read requirements file ${r.show(file)}`,
    where,
    hint: "python.requirements in tug.yaml names it, relative to tug.yaml (default requirements.txt; pyproject.toml and uv.lock also work)",
  });
}

export function addHashes(hashes: Map<string, string[]>, name: string, add: readonly string[]): void {
  if (add.length === 0) return;
  const key = normalizeName(name);
  hashes.set(key, [...new Set([...(hashes.get(key) ?? []), ...add])]);
}
