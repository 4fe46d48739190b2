import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { TugError } from "../../errors.ts";
import { normalizeName } from "./name.ts";

/** What every reader shares: how to name a file in messages, and the hashes of what was read. */
export interface Reading {
  /** The name messages (and FileRequirement.file) use for an absolute path. */
  show: (file: string) => string;
  fileHashes: Map<string, string>;
}

/** The file's text, its bytes' sha256 recorded in `fileHashes`; undefined when it cannot be read. */
export async function tryReadText(file: string, r: Reading): Promise<string | undefined> {
  const data = await readFile(file).catch(() => undefined);
  if (data === undefined) return undefined;
  r.fileHashes.set(file, createHash("sha256").update(data).digest("hex"));
  return data.toString("utf8");
}

export async function readText(file: string, where: string, r: Reading): Promise<string> {
  const text = await tryReadText(file, r);
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
