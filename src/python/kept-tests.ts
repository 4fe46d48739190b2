import { inflateRawSync } from "node:zlib";
import type { CacheStore } from "../engine/cache-store.ts";
import { importsOf } from "./imports.ts";
import { importedPaths } from "./module-providers.ts";
import { installedName } from "./wheel-layout.ts";
import type { WheelFile, WheelRow } from "./wheel-table.ts";

const TEST_DIRS = new Set(["tests", "test"]);
const MAY_REACH_TESTS =
  /(?:^|[;:\s])(?:from|import)\s[^\n#]*\btests?\b|import\s*\(\s*[^)]*\btests?\b|\\\s*\n[^\n]*\btests?\b|import_module|__import__/m;

/** The tests directory `strip: {tests: true}` would drop a zip path for (as wheel-layout.ts decides), if any. */
export function testDirOf(path: string): string | undefined {
  const parts = path.split("/");
  for (let i = 1; i < parts.length - 1; i++) {
    if (TEST_DIRS.has(parts[i] as string)) return parts.slice(0, i + 1).join("/");
  }
  return undefined;
}

/**
 * The files under tests directories that a package's kept modules import, and so must stay when
 * tests are stripped (numpy 2.2's `numpy.testing` imports `numpy._core.tests._natype`). Starts from
 * every module outside a tests directory, follows absolute and relative imports (and `from x
 * import tests`) to modules of this wheel inside tests directories, keeps each with the
 * `__init__.py` of every package on the way, and scans what it keeps in turn. Only what is
 * imported stays: the rest of the directory (other tests, their data) still goes. `sourceOf`
 * gives a `.py` file's text by zip path.
 */
export async function testFilesImported(
  pyPaths: readonly string[],
  sourceOf: (path: string) => string | Promise<string>,
): Promise<string[]> {
  const inTests = new Set<string>();
  const queue: string[] = [];
  for (const p of pyPaths) {
    if (testDirOf(p) === undefined) queue.push(p);
    else inTests.add(p);
  }
  const kept = new Set<string>();
  const keep = (file: string) => {
    if (!inTests.has(file) || kept.has(file)) return;
    kept.add(file);
    queue.push(file);
  };
  while (queue.length) {
    const path = queue.shift() as string;
    const source = await sourceOf(path);
    // Parsing is the cost (a cold numpy + pandas is thousands of files): only a file with an
    // import naming a tests package, a dynamic import, or one inside a tests directory is parsed.
    if (!MAY_REACH_TESTS.test(source) && testDirOf(path) === undefined) continue;
    const pkg = path.split("/").slice(0, -1);
    for (const imp of importsOf(source, path)) {
      if (imp.level > pkg.length) continue;
      const base = imp.level > 0 ? pkg.slice(0, pkg.length - (imp.level - 1)) : [];
      const module = [...base, ...(imp.module ? imp.module.split(".") : [])].join(".");
      if (!module) continue;
      for (const dotted of [module, ...importedPaths({ ...imp, module })]) {
        const parts = dotted.split(".");
        for (let i = 1; i <= parts.length; i++) keep(`${parts.slice(0, i).join("/")}/__init__.py`);
        keep(`${parts.join("/")}.py`);
      }
    }
  }
  return [...kept].sort();
}

// Bump when testFilesImported would answer differently for the same wheel.
const KEPT_TESTS_VERSION = 2;

/**
 * testFilesImported for one wheel, once per wheel ever: the answer is a record keyed by the wheel's
 * sha256 (its bytes decide it), so a cached wheel is never parsed again.
 */
export async function cachedTestFilesImported(
  store: CacheStore | undefined,
  sha256: string,
  rows: readonly WheelRow[],
  file: WheelFile,
): Promise<string[]> {
  const key = `${KEPT_TESTS_VERSION}:${sha256}`;
  // A record (maybe from a shared cache) can only ever keep files under tests directories.
  const isList = (v: unknown): v is string[] =>
    Array.isArray(v) && v.every((x) => typeof x === "string" && testDirOf(x) !== undefined);
  const hit = await store?.getRecord("wheel-kept-tests", key, isList);
  if (hit !== undefined) return hit;
  const sources = new Map<string, WheelRow>();
  let anyTests = false;
  for (const row of rows) {
    const name = installedName(row.name);
    if (name === undefined || !name.endsWith(".py")) continue;
    sources.set(name, row);
    if (testDirOf(name) !== undefined) anyTests = true;
  }
  // Files are read as the walk reaches them: most of a package's tests are never read.
  const kept = anyTests
    ? await testFilesImported([...sources.keys()], (p) => entryText(file, sources.get(p) as WheelRow))
    : [];
  await store?.putRecord("wheel-kept-tests", key, kept);
  return kept;
}

async function entryText(file: WheelFile, row: WheelRow): Promise<string> {
  const raw = await file.raw(row);
  const bytes = raw instanceof Uint8Array ? raw : Buffer.concat(await raw.toArray());
  return (row.method === 8 ? inflateRawSync(bytes) : Buffer.from(bytes)).toString("utf8");
}
