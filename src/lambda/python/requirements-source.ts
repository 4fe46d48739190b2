import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { TugError } from "../../errors.ts";
import { normalizeName } from "./name.ts";
import { type FileRequirement, parseRequirementsFile } from "./requirements-file.ts";

/** What a project's requirements say, ready for the resolver. */
export interface RequirementsSource {
  requirements: FileRequirement[];
  /** Exact versions every function must use (e.g. from uv.lock), normalised name → version. */
  pins: Map<string, string>;
  /** `--hash` pins, normalised name → "sha256:HEX": the chosen wheel must be one of them. */
  hashes: Map<string, string[]>;
  /** Absolute paths of every file read, for cache keys. */
  files: string[];
}

/** Reads the project's requirements file (and its `-r` includes, each relative to its includer). */
export async function readRequirementsSource(file: string, where: string): Promise<RequirementsSource> {
  const files: string[] = [];
  const requirements = await readRequirementsFile(file, where, files);
  const hashes = new Map<string, string[]>();
  for (const r of requirements) {
    if (r.hashes.length === 0) continue;
    const name = normalizeName(r.name);
    hashes.set(name, [...(hashes.get(name) ?? []), ...r.hashes]);
  }
  return { requirements, pins: new Map(), hashes, files };
}

async function readRequirementsFile(file: string, where: string, seen: string[]): Promise<FileRequirement[]> {
  if (seen.includes(file)) return [];
  seen.push(file);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new TugError({
      what: `cannot read requirements file ${file}`,
      where,
      hint: "python.requirements in tug.yaml names it, relative to tug.yaml (default requirements.txt)",
    });
  }
  const parsed = parseRequirementsFile(text, file);
  const out = [...parsed.requirements];
  for (const inc of parsed.includes) {
    out.push(...(await readRequirementsFile(join(dirname(file), inc.path), `${inc.file}:${inc.line}`, seen)));
  }
  return out;
}
