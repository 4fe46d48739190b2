import { readFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { SyntaxNode } from "@lezer/common";
import { parser } from "@lezer/python";
import { TugError } from "../errors.ts";
import { type PathKind, PYTHON_FILES, pathKind } from "../lambda/path-kind.ts";
import { STDLIB_ALWAYS, STDLIB_CHANGED } from "./stdlib-modules.ts";

export interface PythonImport {
  /** Dotted module name as written, without the leading dots of a relative import ("" for `from . import x`). */
  module: string;
  /** 1-based line of the statement. */
  line: number;
  /** Leading dots of a relative import; 0 for an absolute one. */
  level: number;
  /** The names of a `from … import` (`*` included as written). */
  names?: string[];
  /** Inside `try:` guarded by `except ImportError`, `ModuleNotFoundError`, `Exception` or a bare except: optional. */
  weak?: boolean;
  /** Found as `__import__("x")` / `importlib.import_module("x")` rather than a statement. */
  dynamic?: boolean;
  /**
   * In the handler of `except ImportError` (or ModuleNotFoundError): the modules its `try` body
   * imports. The fallback runs only when one of those is missing, so it is optional when they all
   * exist for the target (`try: import tomllib` / `except ImportError: import tomli` on 3.11).
   */
  fallbackFor?: string[];
}

/**
 * Every import of a Python module, wherever it sits: in functions, `try` blocks and `if
 * TYPE_CHECKING:` too (type-only imports are cheap to ship and costly to miss). The lezer parser
 * recovers from syntax errors, so a half-written file still yields what it can; strings, comments
 * and docstrings never look like imports because they are separate tokens.
 */
export function importsOf(source: string, _file?: string): PythonImport[] {
  const tree = parser.parse(source);
  const out: PythonImport[] = [];
  const lineOf = lineIndex(source);
  const text = (n: SyntaxNode) => source.slice(n.from, n.to);
  tree.iterate({
    enter: (ref) => {
      if (ref.name === "ImportStatement") {
        const weak = isWeak(ref.node, text);
        const fallbackFor = weak ? undefined : fallbackOf(ref.node, text);
        for (const imp of statement(ref.node, text, lineOf(ref.from)))
          out.push(weak ? { ...imp, weak } : fallbackFor ? { ...imp, fallbackFor } : imp);
        return false;
      }
      if (ref.name === "CallExpression") {
        const dyn = dynamicImport(ref.node, text);
        if (dyn !== undefined) {
          const imp: PythonImport = { module: dyn, line: lineOf(ref.from), level: 0, dynamic: true };
          out.push(isWeak(ref.node, text) ? { ...imp, weak: true } : imp);
        }
      }
      return undefined;
    },
  });
  return out;
}

function statement(node: SyntaxNode, text: (n: SyntaxNode) => string, line: number): PythonImport[] {
  const kids: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) kids.push(c);
  if (kids[0]?.name === "import") {
    // import a.b as c, d.e  →  a.b, d.e
    const out: PythonImport[] = [];
    let parts: string[] = [];
    let alias = false;
    const flush = () => {
      if (parts.length) out.push({ module: parts.join("."), line, level: 0 });
      parts = [];
      alias = false;
    };
    for (const k of kids.slice(1)) {
      if (k.name === ",") flush();
      else if (k.name === "as") alias = true;
      else if (k.name === "VariableName" && !alias) parts.push(text(k));
    }
    flush();
    return out;
  }
  // from ..a.b import (c, d as e)
  let level = 0;
  const parts: string[] = [];
  let i = 1;
  for (; i < kids.length && kids[i]?.name !== "import"; i++) {
    const k = kids[i] as SyntaxNode;
    if (k.name === "VariableName") parts.push(text(k));
    else if (k.name === "." && parts.length === 0) level++;
    else if (k.name === "Ellipsis" || text(k) === "...") level += 3;
  }
  const names: string[] = [];
  let alias = false;
  for (const k of kids.slice(i + 1)) {
    if (k.name === ",") alias = false;
    else if (k.name === "as") alias = true;
    else if ((k.name === "VariableName" && !alias) || k.name === "*") names.push(text(k));
  }
  return [{ module: parts.join("."), line, level, names }];
}

function dynamicImport(call: SyntaxNode, text: (n: SyntaxNode) => string): string | undefined {
  const callee = call.firstChild;
  const args = call.getChild("ArgList");
  if (!callee || !args) return undefined;
  const name = text(callee).replace(/\s+/g, "");
  if (name !== "__import__" && name !== "importlib.import_module" && name !== "import_module")
    return undefined;
  const first = args.firstChild?.nextSibling;
  if (first?.name !== "String") return undefined;
  const m = /^[rRuUbB]?(['"])([A-Za-z_][\w.]*)\1$/.exec(text(first));
  return m?.[2];
}

const OPTIONAL_EXCEPTIONS = /\bexcept\s*(:|\(?[^:]*\b(ImportError|ModuleNotFoundError|Exception)\b)/;

function isWeak(node: SyntaxNode, text: (n: SyntaxNode) => string): boolean {
  for (let n: SyntaxNode | null = node; n; n = n.parent) {
    if (n.name !== "TryStatement") continue;
    const body = n.getChild("Body");
    // Only the try body is guarded; imports in except/else/finally are the fallbacks.
    if (body && node.from >= body.from && node.to <= body.to && OPTIONAL_EXCEPTIONS.test(text(n)))
      return true;
  }
  return false;
}

const IMPORT_ERRORS = /\b(ImportError|ModuleNotFoundError)\b/;

/** The absolute modules a `try` body imports when `node` sits in its `except ImportError` handler. */
function fallbackOf(node: SyntaxNode, text: (n: SyntaxNode) => string): string[] | undefined {
  for (let n: SyntaxNode | null = node.parent; n; n = n.parent) {
    if (n.name !== "TryStatement") continue;
    const kids: SyntaxNode[] = [];
    for (let c = n.firstChild; c; c = c.nextSibling) kids.push(c);
    const handler = kids.findIndex((k) => k.name === "Body" && node.from >= k.from && node.to <= k.to);
    const tryBody = kids.find((k) => k.name === "Body");
    if (handler <= 0 || !tryBody || kids[handler] === tryBody) continue;
    // The clause between the nearest `except` keyword and this body names what it catches.
    let at = handler - 1;
    while (at > 0 && kids[at]?.name !== "except") at--;
    if (kids[at]?.name !== "except") continue;
    const caught = kids
      .slice(at + 1, handler)
      .map(text)
      .join(" ");
    if (!IMPORT_ERRORS.test(caught)) continue;
    const guarded: string[] = [];
    for (let c = tryBody.firstChild; c; c = c.nextSibling) collectImports(c, text, guarded);
    return guarded.length ? guarded : undefined;
  }
  return undefined;
}

function collectImports(node: SyntaxNode, text: (n: SyntaxNode) => string, out: string[]): void {
  if (node.name === "ImportStatement") {
    for (const imp of statement(node, text, 0)) if (imp.level === 0 && imp.module) out.push(imp.module);
    return;
  }
  for (let c = node.firstChild; c; c = c.nextSibling) collectImports(c, text, out);
}

function lineIndex(source: string): (pos: number) => number {
  const starts = [0];
  for (let i = source.indexOf("\n"); i >= 0; i = source.indexOf("\n", i + 1)) starts.push(i + 1);
  return (pos) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

/** Whether `module` (a top-level name) is in the standard library of Python 3.`minor` (any 3.9–3.14 when omitted). */
export function isStdlib(module: string, minor?: number): boolean {
  const top = module.split(".")[0] as string;
  const changed = STDLIB_CHANGED[top];
  if (changed) return minor === undefined || (changed[0] <= minor && minor <= changed[1]);
  return STDLIB.has(top);
}
const STDLIB = new Set(STDLIB_ALWAYS);

export interface ClosureOptions {
  /** Python minor version of the target (12 for 3.12), for the stdlib check; default any 3.9–3.14. */
  minor?: number;
  /** Further directories first-party modules are found in, after `rootDir`. */
  sourceRoots?: string[];
  /**
   * Reads a source file; a caller that also zips the files passes a memoising reader, so the
   * bytes parsed for imports are the very bytes packed and hashed (an edit racing the build
   * then shows up as a changed input, never as a zip whose imports disagree with its sources).
   */
  read?: (path: string) => Promise<Buffer>;
  /** Further first-party files to start from (a lambda's `include:`), after the entry. */
  extraEntries?: readonly string[];
}

export interface Closure {
  /** First-party files reached from the entry, entry first, as absolute paths. */
  files: string[];
  /** Top-level names of third-party modules imported anywhere in the closure. */
  thirdParty: Set<string>;
  /** Third-party imports with where they were found (weak ones are optional), for messages. */
  imports: Array<{ module: string; file: string; line: number; weak: boolean; names?: string[] }>;
  /**
   * Every path looked at while resolving imports, with what it was. Together with the files'
   * contents this decides the closure: if none changed, neither did the closure.
   */
  probes: Map<string, PathKind>;
}

export type { PathKind } from "../lambda/path-kind.ts";

/**
 * Follows imports from `entryFile` through first-party modules (`a/b.py` or `a/b/__init__.py`
 * under a source root, relative imports resolved against the importer's package) and collects the
 * third-party top-level names they reach. The standard library is neither followed nor reported.
 */
export async function firstPartyClosure(
  entryFile: string,
  rootDir: string,
  opts: ClosureOptions = {},
): Promise<Closure> {
  const roots = [resolve(rootDir), ...(opts.sourceRoots ?? []).map((r) => resolve(r))];
  const entry = resolve(entryFile);
  const seen = new Set<string>();
  const queue: string[] = [];
  const thirdParty = new Set<string>();
  const imports: Closure["imports"] = [];
  const probes = new Map<string, PathKind>();
  const probe = async (p: string): Promise<PathKind> => {
    let kind = probes.get(p);
    if (kind === undefined) {
      kind = await pathKind(p);
      probes.set(p, kind);
    }
    return kind;
  };
  // Importing a submodule runs every parent package's __init__.py first (and so its side effects
  // and imports): each file brings the packages that hold it, up to its source root.
  const add = async (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    queue.push(f);
    const root = longestRoot(f, roots);
    if (root === undefined) return;
    for (let dir = dirname(f); dir !== root && dir.startsWith(root + sep); dir = dirname(dir)) {
      const init = join(dir, "__init__.py");
      if (init !== f && (await probe(init)) === "file") await add(init);
    }
  };
  for (const f of [entry, ...(opts.extraEntries ?? []).map((e) => resolve(e))]) await add(f);
  while (queue.length) {
    const file = queue.shift() as string;
    let source: string;
    try {
      source = opts.read ? (await opts.read(file)).toString("utf8") : await readFile(file, "utf8");
    } catch (cause) {
      // A refusal from the reader (a link out of the project) is already the one clear error.
      if (cause instanceof TugError) throw cause;
      throw new TugError({ what: `cannot read Python source ${file}`, where: file, cause });
    }
    for (const imp of importsOf(source, file)) {
      const found = await resolveImport(imp, file, roots, probe);
      if (found) {
        for (const f of found) await add(f);
        continue;
      }
      if (imp.level > 0 || imp.module === "") continue; // an unresolved relative import is never third-party
      const top = imp.module.split(".")[0] as string;
      if (isStdlib(top, opts.minor)) continue;
      thirdParty.add(top);
      // The names of a `from` import matter for namespace packages (`from google import protobuf`).
      const names = imp.names?.length ? { names: imp.names } : {};
      // A fallback for standard modules (`except ImportError: import tomli`) never runs when the
      // target's Python has them all: it is optional there, as Python would find it.
      const fallback =
        imp.fallbackFor?.every((m) => isStdlib(m.split(".")[0] as string, opts.minor)) === true;
      const weak = imp.weak === true || fallback;
      imports.push({ module: imp.module, file, line: imp.line, weak, ...names });
    }
  }
  return { files: [...seen], thirdParty, imports, probes };
}

/** The longest of `roots` that holds `file` (source roots nest inside the project directory). */
function longestRoot(file: string, roots: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const root of roots)
    if (file.startsWith(root + sep) && (best === undefined || root.length > best.length)) best = root;
  return best;
}

/** The first-party files an import loads, or undefined when it is not first-party (packages along the way, and submodules named in `from`). */
async function resolveImport(
  imp: PythonImport,
  file: string,
  roots: string[],
  probe: (path: string) => Promise<PathKind>,
): Promise<string[] | undefined> {
  const isFile = async (p: string) => (await probe(p)) === "file";
  const isDir = async (p: string) => (await probe(p)) === "dir";
  const bases: string[] = [];
  if (imp.level > 0) {
    let pkg = dirname(file);
    for (let i = 1; i < imp.level; i++) pkg = dirname(pkg);
    bases.push(pkg);
  } else {
    bases.push(...roots);
  }
  const parts = imp.module === "" ? [] : imp.module.split(".");
  for (const base of bases) {
    const files: string[] = [];
    let dir = base;
    let ok = true;
    for (const [i, part] of parts.entries()) {
      const last = i === parts.length - 1;
      const init = join(dir, part, "__init__.py");
      if (await isFile(init)) files.push(init);
      else if (last && (await isFile(join(dir, `${part}.py`)))) files.push(join(dir, `${part}.py`));
      else if (!(await isDir(join(dir, part)))) {
        ok = false; // a namespace package is a plain directory; anything else is not ours
        break;
      }
      dir = join(dir, part);
    }
    if (!ok || (parts.length === 0 && imp.level === 0)) continue;
    for (const name of imp.names ?? []) {
      const sub = join(dir, `${name}.py`);
      const subPkg = join(dir, name, "__init__.py");
      if (await isFile(sub)) files.push(sub);
      else if (await isFile(subPkg)) files.push(subPkg);
    }
    if (files.length || parts.length === 0) return files;
    // A directory with no Python in it (data, a checkout of docs) is not a namespace package
    // of ours: Lambda's path puts the wheels in the same root, so the import is the wheel's.
    if (imp.level > 0 || (await probe(join(dir, PYTHON_FILES))) === "file") return files;
  }
  return undefined;
}

/** `path` relative to `root` with `/` separators, for messages and manifests. */
export function displayPath(path: string, root: string): string {
  return relative(root, path).split(sep).join("/");
}
