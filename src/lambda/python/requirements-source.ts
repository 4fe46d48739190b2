import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import { TugError } from "../../errors.ts";
import { normalizeName } from "./name.ts";
import { parseRequirement } from "./requirement.ts";
import { type FileRequirement, parseRequirementsFile } from "./requirements-file.ts";

/** What a project's requirements say, ready for the resolver. */
export interface RequirementsSource {
  requirements: FileRequirement[];
  /** Exact versions every function must use (e.g. from uv.lock), normalised name → version. */
  pins: Map<string, string>;
  /** `--hash` pins, normalised name → "sha256:HEX": the chosen wheel must be one of them. */
  hashes: Map<string, string[]>;
  /**
   * `-c` lines that are not plain `==` pins (those are in `pins`): each narrows its distribution's
   * versions without requiring it. For the resolver's `constraints` option.
   */
  constraints?: FileRequirement[];
  /**
   * Every file read, absolute path → hex sha256 of exactly the bytes that were parsed (not read
   * again later, so an edit racing the build shows up as a changed input next time): for cache keys.
   */
  fileHashes: Map<string, string>;
}

/** What every reader shares: how to name a file in messages, and the hashes of what was read. */
interface Reading {
  /** The name messages (and FileRequirement.file) use for an absolute path. */
  show: (file: string) => string;
  fileHashes: Map<string, string>;
}

/**
 * Reads the project's requirements, by file name: `pyproject.toml` ([project].dependencies, PEP
 * 621), `uv.lock` (the root project's dependencies, every locked version and wheel hash as pins),
 * anything else as a pip requirements file (with its `-r` includes and `-c` constraints).
 * With `displayRoot` (the project directory), files are named relative to it in messages and in
 * each FileRequirement's `file` ("requirements.txt:3"); `fileHashes` keeps absolute paths.
 */
export async function readRequirementsSource(
  file: string,
  where: string,
  displayRoot?: string,
): Promise<RequirementsSource> {
  const r: Reading = { show: (f) => displayPath(f, displayRoot), fileHashes: new Map() };
  const name = basename(file);
  if (name === "pyproject.toml") return readPyproject(file, where, r);
  if (name === "uv.lock") return readUvLock(file, where, r);
  return readPipRequirements(file, where, r);
}

/** `file` relative to `root` with "/" separators; absolute when there is no root or it is elsewhere. */
function displayPath(file: string, root: string | undefined): string {
  if (root === undefined) return file;
  const rel = relative(root, file);
  if (rel === "" || isAbsolute(rel)) return file;
  return rel.split(sep).join("/");
}

/** The file's text, its bytes' sha256 recorded in `fileHashes`; undefined when it cannot be read. */
async function tryReadText(file: string, r: Reading): Promise<string | undefined> {
  const data = await readFile(file).catch(() => undefined);
  if (data === undefined) return undefined;
  r.fileHashes.set(file, createHash("sha256").update(data).digest("hex"));
  return data.toString("utf8");
}

async function readText(file: string, where: string, r: Reading): Promise<string> {
  const text = await tryReadText(file, r);
  if (text !== undefined) return text;
  throw new TugError({
    what: `cannot read requirements file ${r.show(file)}`,
    where,
    hint: "python.requirements in tug.yaml names it, relative to tug.yaml (default requirements.txt; pyproject.toml and uv.lock also work)",
  });
}

// ---------------------------------------------------------------- pip requirements files

async function readPipRequirements(file: string, where: string, r: Reading): Promise<RequirementsSource> {
  const requirements: FileRequirement[] = [];
  const constraintLines: FileRequirement[] = [];
  await readRequirementsFile({
    file,
    where,
    reading: r,
    seen: new Set(),
    into: requirements,
    constraintsInto: constraintLines,
  });
  const hashes = new Map<string, string[]>();
  for (const q of [...requirements, ...constraintLines]) addHashes(hashes, q.name, q.hashes);
  const pins = new Map<string, string>();
  const constraints: FileRequirement[] = [];
  for (const c of constraintLines) {
    if (c.extras.length > 0) {
      throw new TugError({
        what: `constraint "${c.text}" names extras`,
        where: `${c.file}:${c.line}`,
        hint: "constraints limit versions only (pip refuses extras there too); put the extras on the requirement",
      });
    }
    const exact = /^===?([^,*]+)$/.exec(c.specifier)?.[1];
    const pinned = pins.get(c.name);
    if (exact && !c.marker && (pinned === undefined || pinned === exact)) pins.set(c.name, exact);
    else constraints.push(c);
  }
  return { requirements, pins, hashes, constraints, fileHashes: r.fileHashes };
}

interface ReadFileOptions {
  /** Absolute: includes are found relative to it. */
  file: string;
  where: string;
  reading: Reading;
  seen: Set<string>;
  into: FileRequirement[];
  constraintsInto: FileRequirement[];
}

/** Reads one file; `-r` includes go to the same list as the includer, `-c` files to the constraints. */
async function readRequirementsFile(o: ReadFileOptions): Promise<void> {
  if (o.seen.has(o.file)) return;
  o.seen.add(o.file);
  const text = await readText(o.file, o.where, o.reading);
  // Parsed under its display name: requirements, includes and errors all name it so.
  const parsed = parseRequirementsFile(text, o.reading.show(o.file));
  o.into.push(...parsed.requirements);
  for (const inc of parsed.includes) {
    await readRequirementsFile({
      ...o,
      file: join(dirname(o.file), inc.path),
      where: `${inc.file}:${inc.line}`,
    });
  }
  for (const c of parsed.constraints) {
    const file = join(dirname(o.file), c.path);
    // Everything a constraints file names (its own -r and -c files too) only constrains.
    await readRequirementsFile({ ...o, file, where: `${c.file}:${c.line}`, into: o.constraintsInto });
  }
}

function addHashes(hashes: Map<string, string[]>, name: string, add: readonly string[]): void {
  if (add.length === 0) return;
  const key = normalizeName(name);
  hashes.set(key, [...new Set([...(hashes.get(key) ?? []), ...add])]);
}

// ---------------------------------------------------------------- TOML files

function tomlDocument(text: string, file: string): Record<string, unknown> {
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

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** 1-based line of the first `needle` at or after `from` (TOML keeps no positions): for messages. */
function lineOf(text: string, needle: string, from = 0): number {
  const at = text.indexOf(needle, from);
  return at < 0 ? 1 : text.slice(0, at).split("\n").length;
}

function malformed(file: string, line: number, what: string, hint: string): TugError {
  return new TugError({ what: `${basename(file)}: ${what}`, where: `${file}:${line}`, hint });
}

/** A PEP 508 string from a TOML file, with the line it was (first) written on. */
function tomlRequirement(text: string, file: string, req: string, from: number): FileRequirement {
  const quoted = [JSON.stringify(req), `'${req}'`].map((q) => text.indexOf(q, from)).filter((i) => i >= 0);
  const line = quoted.length > 0 ? text.slice(0, Math.min(...quoted)).split("\n").length : 1;
  return { ...parseRequirement(req, `${file}:${line}`), hashes: [], file, line };
}

// ---------------------------------------------------------------- pyproject.toml

async function readPyproject(file: string, where: string, r: Reading): Promise<RequirementsSource> {
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

async function readUvLock(lockFile: string, where: string, r: Reading): Promise<RequirementsSource> {
  const text = await readText(lockFile, where, r);
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
