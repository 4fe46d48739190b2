import { basename } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import { TugError } from "../errors.ts";
import { parseRequirement } from "./requirement.ts";
import type { FileRequirement } from "./requirements-file.ts";
import { type Reading, readText } from "./requirements-reading.ts";
import type { RequirementsSource } from "./requirements-source.ts";

// ---------------------------------------------------------------- TOML files

export function tomlDocument(text: string, file: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (e) {
    if (!(e instanceof TomlError)) throw e;
    const why = (e.message.split("\n")[0] ?? "").replace(/^Invalid TOML document: /, "");
    throw new TugError({
      what: `${basename(file)} is not valid TOML: ${why}`,
      where: `${file}:${e.line}:${e.column}`,
      hint: `fix the syntax there (https://toml.io); tug reads ${basename(file)} with a strict TOML 1.0 parser`,
    });
  }
}

export function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** 1-based line of the first `needle` at or after `from` (TOML keeps no positions): for messages. */
export function lineOf(text: string, needle: string, from = 0): number {
  const at = text.indexOf(needle, from);
  return at < 0 ? 1 : text.slice(0, at).split("\n").length;
}

export function malformed(file: string, line: number, what: string, hint: string): TugError {
  return new TugError({ what: `${basename(file)}: ${what}`, where: `${file}:${line}`, hint });
}

/** A PEP 508 string from a TOML file, with the line it was (first) written on. */
export function tomlRequirement(text: string, file: string, req: string, from: number): FileRequirement {
  const quoted = [JSON.stringify(req), `'${req}'`].map((q) => text.indexOf(q, from)).filter((i) => i >= 0);
  const line = quoted.length > 0 ? text.slice(0, Math.min(...quoted)).split("\n").length : 1;
  return { ...parseRequirement(req, `${file}:${line}`), hashes: [], file, line };
}

// ---------------------------------------------------------------- pyproject.toml

export async function readPyproject(file: string, where: string, r: Reading): Promise<RequirementsSource> {
  const text = await readText(file, where, r);
  return {
    requirements: pyprojectDependencies(text, r.show(file)),
    pins: new Map(),
    hashes: new Map(),
    fileHashes: r.fileHashes,
  };
}

/** `[project].dependencies` of a pyproject.toml (PEP 621); `file` is its display name. */
function pyprojectDependencies(text: string, file: string): FileRequirement[] {
  const doc = tomlDocument(text, file);
  const project = doc.project;
  const header = Math.max(0, text.search(/^\s*\[project\]/m));
  if (!isTable(project)) {
    throw malformed(
      file,
      1,
      "no [project] table",
      "list the dependencies as [project] dependencies = [...] (PEP 621), or point python.requirements at a requirements.txt or uv.lock",
    );
  }
  const deps = project.dependencies;
  const line = lineOf(text, "dependencies", header);
  if (deps === undefined) {
    const dynamic = Array.isArray(project.dynamic) && project.dynamic.includes("dependencies");
    if (dynamic) {
      throw malformed(
        file,
        lineOf(text, "dynamic", header),
        "[project].dependencies is dynamic (the build backend computes it)",
        "write the list in [project].dependencies, or export it (uv export / pip-compile) to a requirements.txt and name that",
      );
    }
    return [];
  }
  if (!Array.isArray(deps) || deps.some((d) => typeof d !== "string")) {
    throw malformed(
      file,
      line,
      "[project].dependencies must be an array of strings",
      'write dependencies = ["name>=1.0", ...]',
    );
  }
  return (deps as string[]).map((d) => tomlRequirement(text, file, d, header));
}
