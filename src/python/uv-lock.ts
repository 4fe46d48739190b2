import { basename, dirname, join } from "node:path";
import { TugError } from "../errors.ts";
import { normalizeName } from "./name.ts";
import { isTable, lineOf, malformed, tomlDocument } from "./pyproject.ts";
import { parseRequirement } from "./requirement.ts";
import type { FileRequirement } from "./requirements-file.ts";
import { addHashes, type Reading, readText, tryReadText, UV_LOCK_MAX_BYTES } from "./requirements-reading.ts";
import type { RequirementsSource } from "./requirements-source.ts";

// ---------------------------------------------------------------- uv.lock

interface UvPackage {
  name: string;
  version: string | undefined;
  source: Record<string, unknown>;
  table: Record<string, unknown>;
  /** Offset and line of this package's `[[package]]` header: for messages. */
  at: number;
  line: number;
}

const LOCAL_SOURCES = ["virtual", "editable", "directory", "path"];

export async function readUvLock(lockFile: string, where: string, r: Reading): Promise<RequirementsSource> {
  const text = await readText(lockFile, where, r, UV_LOCK_MAX_BYTES);
  const file = r.show(lockFile);
  const doc = tomlDocument(text, file);
  const version = doc.version;
  if (version !== 1) {
    throw malformed(
      file,
      lineOf(text, "version"),
      `lock file version ${String(version)} is not supported`,
      "tug reads uv.lock version 1; regenerate it with uv lock, or export it (uv export) to a requirements.txt",
    );
  }
  const packages = uvPackages(doc.package, text, file);
  const byName = new Map<string, UvPackage[]>();
  for (const p of packages) byName.set(p.name, [...(byName.get(p.name) ?? []), p]);

  const pins = new Map<string, string>();
  const hashes = new Map<string, string[]>();
  for (const [name, list] of byName) {
    const locked = list.filter((p) => typeof p.source.registry === "string");
    if (locked.length === 0) continue;
    const versions = [...new Set(locked.map((p) => p.version))];
    // Several versions (uv forks by marker): the hashes still allow only locked wheels.
    if (versions.length === 1 && versions[0] !== undefined) pins.set(name, versions[0]);
    addHashes(
      hashes,
      name,
      locked.flatMap((p) => wheelHashes(p, file)),
    );
  }

  const roots = packages.filter((p) => LOCAL_SOURCES.some((k) => p.source[k] === "."));
  const root = roots[0] ?? (await rootFromPyproject(lockFile, packages, r));
  if (!root) {
    throw malformed(
      file,
      1,
      'no root project (a package with source = { virtual = "." } or { editable = "." })',
      "run uv lock in the directory that holds the project's pyproject.toml and name that uv.lock",
    );
  }
  const requirements: FileRequirement[] = [];
  const visited = new Set<string>();
  const follow = (p: UvPackage) => {
    if (visited.has(p.name)) return;
    visited.add(p.name);
    for (const r of uvRequirements(p, text, file)) {
      const local = byName.get(r.name)?.find((d) => LOCAL_SOURCES.some((k) => d.source[k] !== undefined));
      // A workspace member or local directory is first-party code: its own dependencies count.
      if (local) follow(local);
      else requirements.push(r);
    }
  };
  follow(root);
  return { requirements, pins, hashes, fileHashes: r.fileHashes };
}

function uvPackages(raw: unknown, text: string, file: string): UvPackage[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw))
    throw malformed(
      file,
      lineOf(text, "package"),
      "package must be an array of tables",
      "regenerate the file with uv lock",
    );
  let from = 0;
  return raw.map((table) => {
    const found = text.indexOf("[[package]]", from);
    const at = Math.max(0, found);
    from = found < 0 ? from : found + 1;
    const line = lineOf(text, "[[package]]", at);
    if (!isTable(table) || typeof table.name !== "string") {
      throw malformed(file, line, "a [[package]] has no name", "regenerate the file with uv lock");
    }
    const version = table.version;
    if (version !== undefined && typeof version !== "string") {
      throw malformed(
        file,
        line,
        `version of ${table.name} is not a string`,
        "regenerate the file with uv lock",
      );
    }
    const source = isTable(table.source) ? table.source : {};
    return { name: normalizeName(table.name), version, source, table, at, line };
  });
}

function wheelHashes(p: UvPackage, file: string): string[] {
  const wheels = p.table.wheels;
  if (wheels === undefined) return [];
  if (!Array.isArray(wheels)) {
    throw malformed(file, p.line, `wheels of ${p.name} must be an array`, "regenerate the file with uv lock");
  }
  return wheels.flatMap((w) => {
    const hash = isTable(w) ? w.hash : undefined;
    return typeof hash === "string" && /^sha256:[0-9a-f]{64}$/i.test(hash) ? [hash.toLowerCase()] : [];
  });
}

/**
 * A package's own requirements: `[package.metadata].requires-dist` (as written in pyproject.toml,
 * with specifiers) when present, else its `dependencies` (names and markers; the pins give versions).
 */
function uvRequirements(p: UvPackage, text: string, file: string): FileRequirement[] {
  const meta = isTable(p.table.metadata) ? p.table.metadata : {};
  const fromMeta = Array.isArray(meta["requires-dist"]);
  const list = fromMeta ? meta["requires-dist"] : p.table.dependencies;
  const listAt = Math.max(p.at, text.indexOf(fromMeta ? "requires-dist" : "dependencies", p.at));
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    throw malformed(
      file,
      p.line,
      `dependencies of ${p.name} must be an array`,
      "regenerate the file with uv lock",
    );
  }
  return list.map((d) => {
    if (!isTable(d) || typeof d.name !== "string") {
      throw malformed(
        file,
        p.line,
        `a dependency of ${p.name} has no name`,
        "regenerate the file with uv lock",
      );
    }
    const extras = Array.isArray(d.extras) ? d.extras : Array.isArray(d.extra) ? d.extra : [];
    const spec = typeof d.specifier === "string" ? d.specifier : "";
    const marker = typeof d.marker === "string" ? `; ${d.marker}` : "";
    const req = `${d.name}${extras.length ? `[${extras.join(",")}]` : ""}${spec}${marker}`;
    const line = lineOf(text, `name = ${JSON.stringify(d.name)}`, listAt);
    for (const key of ["git", "url"]) {
      if (d[key] !== undefined) {
        throw new TugError({
          what: `${d.name} comes from ${key} ${String(d[key])} in ${basename(file)}`,
          where: `${file}:${line}`,
          hint: "tug installs wheels from package indexes only: depend on a released version, or serve the wheel from a file:// index",
        });
      }
    }
    return { ...parseRequirement(req, `${file}:${line}`), hashes: [], file, line };
  });
}

/** The package named by the sibling pyproject.toml's [project].name; that file joins `fileHashes`. */
async function rootFromPyproject(
  lockFile: string,
  packages: UvPackage[],
  r: Reading,
): Promise<UvPackage | undefined> {
  const pyproject = join(dirname(lockFile), "pyproject.toml");
  const text = await tryReadText(pyproject, r);
  if (text === undefined) return undefined;
  const project = tomlDocument(text, r.show(pyproject)).project;
  const name = isTable(project) && typeof project.name === "string" ? normalizeName(project.name) : undefined;
  return packages.find((p) => p.name === name);
}
