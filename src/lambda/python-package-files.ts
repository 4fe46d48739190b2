import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { basename, dirname, join, relative, sep } from "node:path";
import picomatch from "picomatch";
import { loadContextRules, loadGitignoresAlong } from "../engine/ignore-files.ts";
import { type ContextRules, DEFAULT_IGNORE, IGNORE_FILE_NAMES } from "../engine/ignore-rules.ts";
import { TugError } from "../errors.ts";
import { hexOf, sha256 } from "../oci/digest.ts";
import { listingHash } from "./output-record.ts";
import { isInside } from "./source-links.ts";

/** What a walk of first-party directories found, and what decided it (for the no-op record). */
export interface WalkedFiles {
  /** Absolute paths of the files to zip, sorted. */
  files: string[];
  /**
   * Every directory read, with its listing hash (output-record.ts): a file added or removed there
   * builds again. The whole listing counts, so a new `__pycache__` beside a package's data costs one
   * rebuild; an unrelated file outside the walked directories costs none.
   */
  dirs: Record<string, string>;
  /**
   * The ignore files consulted: sha256 of their bytes, or undefined when absent (a new one counts).
   * The .gitignore files above the project (inside its repository) also apply but are not listed:
   * an edit there that changes what a package ships is seen on the next change inside it.
   */
  ignoreFiles: Record<string, string | undefined>;
}

// Bounds against a package directory that holds a whole dataset or a link loop.
const MAX_FILES = 20_000;
const MAX_DEPTH = 32;
// Lambda unpacks at most 250 MB: a bigger file could never ship, and is not read into memory.
const MAX_FILE_BYTES = 250 * 1000 * 1000;

// Never shipped: byte code is rebuilt by Python; tug's, git's, virtualenvs' and tools' caches are
// not the app's (the python image builder leaves the same out of /app).
const NOT_APP_DIRS = new Set([
  "__pycache__",
  ".tug",
  ".git",
  ".venv",
  "venv",
  ".tox",
  ".mypy_cache",
  ".pytest_cache",
]);

function neverShipped(name: string, isDir: boolean): boolean {
  if (isDir) return NOT_APP_DIRS.has(name);
  return name.endsWith(".pyc") || name.endsWith(".pyo") || IGNORE_FILE_NAMES.has(name);
}

/**
 * The data files of first-party packages, as setuptools' `include_package_data` ships them: every
 * non-Python file inside each package directory (one with an `__init__.py` the zip holds) and in
 * its subdirectories that are not packages themselves (`data/`, `templates/`), less what the
 * project's ignore files (.dockerignore, .tugignore, .gitignore) exclude. A subpackage brings its
 * own data when it is imported; `.py` files are modules, which the import closure decides.
 */
export async function packageDataFiles(o: {
  /** The zip's first-party files; each `__init__.py` among them marks a package directory. */
  modules: readonly string[];
  projectDir: string;
  where: string;
}): Promise<WalkedFiles> {
  const walker = new Walker(o.projectDir, o.where);
  const packages = [...new Set(o.modules.filter((f) => basename(f) === "__init__.py").map(dirname))].sort();
  const visited = new Set<string>();
  for (const dir of packages) {
    await walker.walk(dir, 0, visited, (path, isDir) =>
      isDir ? walker.isPackage(path).then((p) => !p) : Promise.resolve(!path.endsWith(".py")),
    );
  }
  return walker.result();
}

/**
 * The files a lambda's `include:` globs name (relative to the project directory, picomatch syntax),
 * less what the ignore files exclude. A glob that matches nothing is an error: an include is
 * written for a file the imports cannot find, so an empty match is a typo or a moved file.
 */
export async function includedFiles(o: {
  patterns: readonly string[];
  projectDir: string;
  where: string;
}): Promise<WalkedFiles> {
  const walker = new Walker(o.projectDir, o.where);
  for (const pattern of o.patterns) {
    if (pattern.startsWith("/") || pattern.split("/").includes("..")) {
      throw new TugError({
        what: `include: ${pattern} leaves the project`,
        where: o.where,
        hint: "include globs are relative to the directory of tug.yaml and stay inside it",
      });
    }
    const { base } = picomatch.scan(pattern);
    const match = picomatch(pattern, { dot: true });
    // Without `**` a glob cannot match deeper than its own segments.
    const maxDepth = pattern.includes("**") ? MAX_DEPTH : pattern.split("/").length;
    const before = walker.count();
    const start = join(o.projectDir, base);
    const st = await stat(start).catch(() => undefined);
    if (st?.isFile()) await walker.add(start, match);
    else if (st?.isDirectory()) {
      await walker.walk(start, 0, new Set(), async (path, isDir) => {
        const rel = relative(o.projectDir, path).split(sep).join("/");
        return isDir ? rel.split("/").length < maxDepth : match(rel);
      });
    }
    if (walker.count() === before) {
      throw new TugError({
        what: `include: ${pattern} matches no file`,
        where: o.where,
        hint: "globs are relative to the directory of tug.yaml (e.g. src/app/plugins/*.py); files excluded by .gitignore, .dockerignore or .tugignore are not included",
      });
    }
  }
  return walker.result();
}

class Walker {
  private readonly files = new Set<string>();
  private readonly dirs: Record<string, string> = {};
  private readonly ignoreFiles: Record<string, string | undefined> = {};
  private rules: Promise<ContextRules> | undefined;
  private taken = 0;

  constructor(
    private readonly projectDir: string,
    private readonly where: string,
  ) {}

  /** How many files add() took so far, counting a file again when another glob names it too. */
  count(): number {
    return this.taken;
  }

  result(): WalkedFiles {
    return { files: [...this.files].sort(), dirs: this.dirs, ignoreFiles: this.ignoreFiles };
  }

  async isPackage(dir: string): Promise<boolean> {
    return (await stat(join(dir, "__init__.py")).catch(() => undefined))?.isFile() === true;
  }

  /** Adds `path` when it matches and no ignore rule excludes it. */
  async add(path: string, match: (rel: string) => boolean): Promise<void> {
    const rel = relative(this.projectDir, path).split(sep).join("/");
    if (neverShipped(basename(path), false) || !match(rel) || (await this.excluded(path, false))) return;
    const size = (await stat(path).catch(() => undefined))?.size ?? 0;
    if (size > MAX_FILE_BYTES) {
      throw new TugError({
        what: `${rel} is ${Math.round(size / 1e6)} MB, more than a lambda can unpack (250 MB)`,
        where: this.where,
        hint: "keep large data out of the package directories (an S3 object, an image), or exclude it in .tugignore",
      });
    }
    this.files.add(path);
    this.taken++;
    if (this.files.size > MAX_FILES) {
      throw new TugError({
        what: `more than ${MAX_FILES} first-party data files for one lambda`,
        where: this.where,
        hint: "move large data out of the package directories (an S3 object, a layer), or exclude it in .tugignore",
      });
    }
  }

  /** Reads `dir` and below; `keep(path, isDir)` says which files to add and which directories to enter. */
  async walk(
    dir: string,
    depth: number,
    visited: Set<string>,
    keep: (path: string, isDir: boolean) => Promise<boolean>,
  ): Promise<void> {
    if (depth > MAX_DEPTH) return;
    // A link back up the tree would walk forever; each real directory is read once per walk.
    const real = await realpath(dir).catch(() => dir);
    if (visited.has(real)) return;
    visited.add(real);
    const hash = await listingHash(dir);
    if (hash === undefined) return;
    this.dirs[dir] = hash;
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = join(dir, e.name);
      let isDir = e.isDirectory();
      if (e.isSymbolicLink()) isDir = (await stat(path).catch(() => undefined))?.isDirectory() === true;
      else if (!isDir && !e.isFile()) continue; // a FIFO or a socket is no data file
      if (neverShipped(e.name, isDir)) continue;
      if (isDir) {
        if ((await keep(path, true)) && !(await this.excluded(path, true)))
          await this.walk(path, depth + 1, visited, keep);
      } else if (await keep(path, false)) {
        await this.add(path, () => true);
      }
    }
  }

  /** Whether the project's ignore files exclude `path` (only paths inside the project have rules). */
  private async excluded(path: string, isDir: boolean): Promise<boolean> {
    if (!isInside(path, this.projectDir)) return false;
    const rel = relative(this.projectDir, path).split(sep).join("/");
    this.rules ??= this.loadRules();
    const rules = await this.rules;
    await loadGitignoresAlong(rules, this.projectDir, rel);
    const parts = rel.split("/");
    for (let i = 0; i < parts.length; i++)
      await this.noteIgnoreFile(join(this.projectDir, ...parts.slice(0, i), ".gitignore"));
    return rules.excludes(rel, isDir);
  }

  private async loadRules(): Promise<ContextRules> {
    for (const name of [".dockerignore", ".tugignore"])
      await this.noteIgnoreFile(join(this.projectDir, name));
    return loadContextRules(this.projectDir, DEFAULT_IGNORE);
  }

  private async noteIgnoreFile(path: string): Promise<void> {
    if (path in this.ignoreFiles) return;
    const data = await readFile(path).catch(() => undefined);
    this.ignoreFiles[path] = data === undefined ? undefined : hexOf(sha256(data));
  }
}
