import { dirname, isAbsolute, join, relative, sep } from "node:path";

/** The fields of `go list -json` output tug reads (cmd/go/internal/load.PackagePublic). */
export interface GoModule {
  Path: string;
  Version?: string;
  Main?: boolean;
  Dir?: string;
  GoMod?: string;
  Replace?: GoModule;
}

export interface GoPackage {
  Dir: string;
  ImportPath: string;
  Standard?: boolean;
  Module?: GoModule;
  EmbedPatterns?: string[];
  GoFiles?: string[];
  CgoFiles?: string[];
  CFiles?: string[];
  CXXFiles?: string[];
  MFiles?: string[];
  HFiles?: string[];
  FFiles?: string[];
  SFiles?: string[];
  SwigFiles?: string[];
  SwigCXXFiles?: string[];
  SysoFiles?: string[];
  EmbedFiles?: string[];
  IgnoredGoFiles?: string[];
  IgnoredOtherFiles?: string[];
  InvalidGoFiles?: string[];
}

/** Files the compiler reads from a package directory; with CGO off cgo files are ignored, but listed anyway. */
const READ_FIELDS = [
  "GoFiles",
  "CgoFiles",
  "CFiles",
  "CXXFiles",
  "MFiles",
  "HFiles",
  "FFiles",
  "SFiles",
  "SwigFiles",
  "SwigCXXFiles",
  "SysoFiles",
  "EmbedFiles",
] as const;

/** Files whose edits can change which files are read (build constraints), without being read. */
const CONSTRAINT_FIELDS = ["IgnoredGoFiles", "IgnoredOtherFiles", "InvalidGoFiles"] as const;

/** The JSON fields to ask `go list -json=…` for (Go ≥ 1.19): skips computing staleness. */
export const LIST_FIELDS = [
  "Dir",
  "ImportPath",
  "Standard",
  "Module",
  "EmbedPatterns",
  ...READ_FIELDS,
  ...CONSTRAINT_FIELDS,
];

/**
 * `go list`'s JSON flag for a `go version` line: Go 1.19 added field selection, which also skips
 * computing staleness (build IDs of every dependency); older releases print every field.
 */
export function listJsonFlag(goVersion: string): string {
  const m = /\bgo1\.(\d+)/.exec(goVersion);
  return m && Number(m[1]) < 19 ? "-json" : `-json=${LIST_FIELDS.join(",")}`;
}

/**
 * A directory whose listing decides the file list: "source" when only the names of Go and
 * assembler sources matter, "all" when any new name may be read (embed patterns).
 */
export interface WatchedDir {
  dir: string;
  names: "source" | "all";
}

/** What a Go build reads, in absolute host paths, and what must stay unchanged for that to hold. */
export interface GoInputs {
  /** Hashed into the key. */
  files: string[];
  /** Stamped: an edit to one (imports, build constraints) may change `files`. */
  watchFiles: string[];
  watchDirs: WatchedDir[];
}

/** Splits the concatenated JSON objects `go list -json` prints. */
export function parseGoList(text: string): GoPackage[] {
  return jsonObjectStream<GoPackage>(text);
}

/** The concatenated JSON objects of any `go … -json` output (`go list -m -json` too). */
export function jsonObjectStream<T>(text: string): T[] {
  const out: T[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}" && --depth === 0) {
      out.push(JSON.parse(text.slice(start, i + 1)) as T);
    }
  }
  return out;
}

/** A module whose files are on disk next to the project: a main (or workspace) module or a `replace` to a directory. */
export function isLocalModule(m: GoModule | undefined): boolean {
  return !!m && (m.Main === true || (!!m.Replace && !m.Replace.Version && !!m.Replace.Dir));
}

export function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * The inputs of a Go build from its `go list -deps` packages. The standard library is keyed by
 * the Go version and modules from a proxy by go.sum; only local modules' packages (and vendored
 * ones, which live in a main module's vendor/) are read file by file. `moduleFiles` are the
 * go.mod/go.sum/go.work/go.work.sum/vendor/modules.txt paths that exist.
 */
export function goInputsOf(packages: GoPackage[], moduleFiles: string[]): GoInputs {
  const mainDirs = packages.flatMap((p) => (p.Module?.Main && p.Module.Dir ? [p.Module.Dir] : []));
  const files = new Set<string>(moduleFiles);
  const watchFiles = new Set<string>(moduleFiles);
  const watchDirs = new Map<string, WatchedDir["names"]>();
  const watchDir = (dir: string, names: WatchedDir["names"]) => {
    if (watchDirs.get(dir) !== "all") watchDirs.set(dir, names);
  };
  for (const p of packages) {
    if (p.Standard) continue;
    const vendored = mainDirs.some((d) => isInside(p.Dir, join(d, "vendor")));
    if (!isLocalModule(p.Module) && !vendored) continue;
    watchDir(p.Dir, p.EmbedPatterns?.length ? "all" : "source");
    for (const field of READ_FIELDS) {
      for (const name of p[field] ?? []) {
        const abs = join(p.Dir, name);
        files.add(abs);
        // Sources carry imports and build constraints; an embedded file's bytes decide nothing
        // about the list (its directory's names do).
        if (field !== "EmbedFiles") watchFiles.add(abs);
      }
    }
    for (const field of CONSTRAINT_FIELDS)
      for (const name of p[field] ?? []) watchFiles.add(join(p.Dir, name));
    // A new file under an embedded directory changes its own directory, not the package's.
    for (const name of p.EmbedFiles ?? []) {
      for (let d = dirname(join(p.Dir, name)); d !== p.Dir && isInside(d, p.Dir); d = dirname(d)) {
        watchDir(d, "all");
      }
    }
  }
  return {
    files: [...files].sort(),
    watchFiles: [...watchFiles].sort(),
    watchDirs: [...watchDirs].sort(([a], [b]) => (a < b ? -1 : 1)).map(([dir, names]) => ({ dir, names })),
  };
}

/** go.mod (+ go.sum) of every local module the packages come from, and vendor/modules.txt of main modules. */
export function moduleFileCandidates(packages: GoPackage[], gowork: string | undefined): string[] {
  const out = new Set<string>();
  if (gowork) {
    out.add(gowork);
    out.add(`${gowork}.sum`);
  }
  for (const p of packages) {
    const m = p.Module;
    if (!m || !isLocalModule(m)) continue;
    const gomod = m.Replace?.GoMod ?? m.GoMod;
    const dir = m.Replace?.Dir ?? m.Dir;
    if (gomod) out.add(gomod);
    if (dir) {
      out.add(join(dir, "go.sum"));
      if (m.Main) out.add(join(dir, "vendor", "modules.txt"));
    }
  }
  return [...out].sort();
}

/** Names whose appearance in a package directory may change what `go build` reads there. */
export function isSourceName(name: string): boolean {
  return /\.(go|c|cc|cpp|cxx|h|hh|hpp|hxx|m|s|S|sx|f|F|for|f90|syso|swig|swigcxx)$/.test(name);
}

/** The first path not inside any of `roots`. */
export function outsideRoots(paths: string[], roots: string[]): string | undefined {
  return paths.find((p) => !roots.some((r) => isInside(p, r)));
}
