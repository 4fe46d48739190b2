/**
 * Which dotted modules a set of wheels makes importable, and whether an import is among them.
 * Matching by the first segment alone is wrong for namespace packages: `google` is shared by
 * protobuf (`google.protobuf`), googleapis-common-protos (`google.type`, `google.api`),
 * google-auth (`google.auth`), … as PEP 420 directories with no `__init__.py`, so each import is
 * matched by its full dotted path against what each wheel really contains.
 */
export interface ModuleTree {
  /** Every importable dotted path: modules, regular packages and namespace directories. */
  modules: Set<string>;
  /** The directories among `modules` with no `__init__` of their own (PEP 420 namespace portions). */
  namespaces: Set<string>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
// `_message.cpython-311-x86_64-linux-gnu.so`, `mod.abi3.so`, `mod.so`, `mod.pyd`: the name is before the first dot.
const EXTENSION = /^([A-Za-z_][A-Za-z0-9_]*)(\.[^/]*)?\.(so|pyd)$/;

export function emptyTree(): ModuleTree {
  return { modules: new Set(), namespaces: new Set() };
}

/**
 * The module tree of a wheel's file paths (its file table, as the zip lists them): `.py` files
 * and extension modules (ABI suffix stripped) with every directory on the way as a package, a
 * regular one when it holds an `__init__`. `.data/purelib|platlib` count as the root (installers
 * put them there); `.dist-info`, other `.data` schemes and auditwheel's `NAME.libs/` are not
 * importable. Wheels without `top_level.txt` (hatchling, flit, maturin) need nothing else.
 */
export function moduleTreeFromPaths(paths: Iterable<string>): ModuleTree {
  const tree = emptyTree();
  const dirs = new Set<string>();
  const regular = new Set<string>();
  const files = new Set<string>();
  for (const raw of paths) {
    let path = raw.replace(/\\/g, "/");
    const data = /^[^/]+\.data\/(purelib|platlib)\/(.*)$/.exec(path);
    if (data) path = data[2] as string;
    else if (/^[^/]+\.(dist-info|data)\//.test(path)) continue;
    const parts = path.split("/");
    const file = parts.pop() as string;
    if (!parts.every((p) => IDENTIFIER.test(p)) || parts.includes("__pycache__")) continue;
    const stem = file.endsWith(".py") ? file.slice(0, -3) : EXTENSION.exec(file)?.[1];
    if (stem === undefined || !IDENTIFIER.test(stem)) continue;
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join("."));
    if (stem === "__init__") {
      if (parts.length) regular.add(parts.join("."));
    } else files.add([...parts, stem].join("."));
  }
  for (const d of dirs) {
    tree.modules.add(d);
    // `a/` beside `a.py` imports the file: that is not a namespace either.
    if (!regular.has(d) && !files.has(d)) tree.namespaces.add(d);
  }
  for (const f of files) tree.modules.add(f);
  return tree;
}

/** Module names given in config (python.module_mapping): each is taken as a regular module. */
export function treeOfNames(names: Iterable<string>): ModuleTree {
  const tree = emptyTree();
  for (const name of names) {
    const parts = name.split(".");
    for (let i = 1; i <= parts.length; i++) tree.modules.add(parts.slice(0, i).join("."));
  }
  return tree;
}

/**
 * Several trees as one (the wheels of a zip and its layers). A directory that is a namespace in
 * one tree and a regular package in another imports as the regular one, so it stops being a
 * namespace.
 */
export function mergeTrees(trees: Iterable<ModuleTree>): ModuleTree {
  const out = emptyTree();
  const list = [...trees];
  for (const t of list) {
    for (const m of t.modules) out.modules.add(m);
    for (const n of t.namespaces) out.namespaces.add(n);
  }
  for (const n of [...out.namespaces]) {
    if (list.some((o) => o.modules.has(n) && !o.namespaces.has(n))) out.namespaces.delete(n);
  }
  return out;
}

/**
 * Whether `path` (a dotted module, or `module.name` of a `from module import name`) imports from
 * `tree`: the longest prefix the tree holds wins. The whole path is there; or the longest prefix is
 * a module or regular package, whose attributes and lazily imported submodules are its own
 * business. A longest prefix that is only a namespace directory does not import anything deeper:
 * another distribution must provide it.
 */
export function providesImport(tree: ModuleTree, path: string): boolean {
  const parts = path.split(".");
  for (let i = parts.length; i > 0; i--) {
    const prefix = parts.slice(0, i).join(".");
    if (!tree.modules.has(prefix)) continue;
    return i === parts.length || !tree.namespaces.has(prefix);
  }
  return false;
}

/** The dotted paths one import needs: `module` itself, or `module.name` for each name of a `from … import`. */
export function importedPaths(imp: { module: string; names?: readonly string[] }): string[] {
  const names = (imp.names ?? []).filter((n) => n !== "*");
  return names.length ? names.map((n) => `${imp.module}.${n}`) : [imp.module];
}

/** Whether every path of an import is provided by `tree`. */
export function importProvided(
  tree: ModuleTree,
  imp: { module: string; names?: readonly string[] },
): boolean {
  return importedPaths(imp).every((p) => providesImport(tree, p));
}
