import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";
import { TugError } from "../errors.ts";
import { type FileRequirement, type IndexOption, parseRequirementsFile } from "./requirements-file.ts";
import { addHashes, type Reading, readText } from "./requirements-reading.ts";

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
  /** `--index-url` / `--extra-index-url` lines of pip requirements files (and their includes). */
  indexOptions?: IndexOption[];
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
  // The TOML readers load only for TOML files: a requirements.txt build does not parse them.
  if (name === "pyproject.toml") return (await import("./pyproject.ts")).readPyproject(file, where, r);
  if (name === "uv.lock") return (await import("./uv-lock.ts")).readUvLock(file, where, r);
  return readPipRequirements(file, where, r);
}

/** `file` relative to `root` with "/" separators; absolute when there is no root or it is elsewhere. */
function displayPath(file: string, root: string | undefined): string {
  if (root === undefined) return file;
  const rel = relative(root, file);
  if (rel === "" || isAbsolute(rel)) return file;
  return rel.split(sep).join("/");
}

// ---------------------------------------------------------------- pip requirements files

async function readPipRequirements(file: string, where: string, r: Reading): Promise<RequirementsSource> {
  const requirements: FileRequirement[] = [];
  const constraintLines: FileRequirement[] = [];
  const indexOptions: IndexOption[] = [];
  await readRequirementsFile({
    file,
    where,
    reading: r,
    seen: new Set(),
    into: requirements,
    constraintsInto: constraintLines,
    indexOptions,
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
  return { requirements, pins, hashes, constraints, fileHashes: r.fileHashes, indexOptions };
}

interface ReadFileOptions {
  /** Absolute: includes are found relative to it. */
  file: string;
  where: string;
  reading: Reading;
  seen: Set<string>;
  into: FileRequirement[];
  constraintsInto: FileRequirement[];
  /** Index options of every file read, requirements and constraints alike (as pip reads them). */
  indexOptions: IndexOption[];
}

/** Reads one file; `-r` includes go to the same list as the includer, `-c` files to the constraints. */
async function readRequirementsFile(o: ReadFileOptions): Promise<void> {
  if (o.seen.has(o.file)) return;
  o.seen.add(o.file);
  const text = await readText(o.file, o.where, o.reading);
  // Parsed under its display name: requirements, includes and errors all name it so.
  const parsed = parseRequirementsFile(text, o.reading.show(o.file));
  o.into.push(...parsed.requirements);
  o.indexOptions.push(...parsed.indexOptions);
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
