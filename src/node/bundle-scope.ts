import { type BigIntStats, promises as fs } from "node:fs";
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from "node:path";
import { getTsconfig } from "get-tsconfig";
import type { CacheStore } from "../engine/cache-store.ts";
import { keyedFile, type SourceFile } from "../engine/source-tree.ts";
import type { StatCache } from "../engine/stat-cache.ts";
import { type Digest, hexOf, isDigest, sha256 } from "../oci/digest.ts";

/**
 * What a node image's bundle reads besides its context: files esbuild bundled from outside it (a
 * sibling `../shared`, a workspace package that npm links into node_modules), and the config
 * files that steer esbuild there (package.json `type`, tsconfig.json with its `extends` chain
 * above the context). The bundle's key covers the context tree; without these a change to
 * `../shared/greeting.ts` left the image cached and stale.
 *
 * Known only after a bundle ran, so it is recorded per context tree (like a compiler's depfile):
 * a build whose recorded scope still holds keys on it without bundling; otherwise the bundle
 * runs at plan time, its scope is recorded, and the key covers exactly what it read.
 */
export interface BundleScope {
  /** Context-relative paths (`../shared/x.ts`) of outside files and config files, by sha256 hex. */
  files: Record<string, string>;
  /** Config files that were absent: creating one changes what esbuild does. */
  absent: string[];
  /** Directories of outside files by their listing: a new `x.ts` beside `x.js` can shadow it. */
  dirs: Record<string, string>;
  /** sha256 hex of each merged tsconfig (extends resolved) that applies, by context-relative dir. */
  tsconfigs: Record<string, string>;
}

export const BUNDLE_SCOPE_KIND = "node-bundle-scope";

const CONFIG_FILES = ["package.json", "jsconfig.json"];
const MAX_PATHS = 20_000;
// A file modified this close to (or after) the bundle started may have changed after esbuild read
// it within one timestamp tick: such a scope is not recorded (the next build bundles again).
const RACY_MS = 50;

/** Where a scope may reach: the project (tug.yaml) directory and its git work tree. */
export interface ScopeRoots {
  context: string;
  roots: string[];
}

/**
 * The scope of a bundle that read `inputs` (esbuild's metafile paths, relative to the context).
 * `recordable` is false when a file changed while (or just before) the bundle read it.
 */
export async function scopeOfBundle(
  inputs: Iterable<string>,
  where: ScopeRoots,
  since: number,
): Promise<{ scope: BundleScope; recordable: boolean }> {
  // Packages hoisted above the context (npm workspaces) count by their files and package.json
  // (which says what an import resolves to): no lockfile in the context stands for them. Those
  // in the context's node_modules are its lockfile's, checked when bundled (node.ts).
  const outside = [...inputs].filter(isOutside);
  const firstParty = outside.filter((p) => !p.split("/").includes("node_modules"));
  const dirs = new Set(firstParty.map((p) => posix.dirname(p)));
  const configs = new Set<string>(outside.flatMap((p) => packageJsonOf(p) ?? []));
  const top = topRoot(where);
  for (const dir of [...dirs, ".."]) {
    for (let abs = resolve(where.context, dir); isInside(abs, top); abs = dirname(abs)) {
      for (const f of CONFIG_FILES) configs.add(rel(where.context, join(abs, f)));
      if (abs === top) break;
    }
  }
  const scope: BundleScope = { files: {}, absent: [], dirs: {}, tsconfigs: {} };
  let recordable = true;
  const note = (st: BigIntStats | undefined) => {
    if (st && Number(st.mtimeMs) >= since - RACY_MS) recordable = false;
  };
  for (const p of [...outside, ...configs].sort()) {
    const st = await fs.stat(resolve(where.context, p), { bigint: true }).catch(() => undefined);
    note(st);
    if (st?.isFile()) scope.files[p] = hexOf(await fileSha(resolve(where.context, p)));
    else if (!outside.includes(p)) scope.absent.push(p);
  }
  for (const d of [...dirs].sort()) scope.dirs[d] = await listing(resolve(where.context, d));
  scope.tsconfigs = tsconfigsOf([".", ...dirs], where.context);
  return { scope, recordable };
}

/**
 * The recorded scope's files as a key tree, when nothing it depends on changed since: every file
 * has the recorded content, no absent config appeared, every directory lists the same names, and
 * the merged tsconfigs are the same. Undefined: the bundle must run to know its scope.
 */
export async function scopeStillHolds(
  scope: BundleScope,
  where: ScopeRoots,
  statCache: StatCache,
): Promise<SourceFile[] | undefined> {
  const files: SourceFile[] = [];
  for (const [p, hex] of Object.entries(scope.files)) {
    const file = await hashedFile(resolve(where.context, p), p, statCache);
    if (file?.digest !== `sha256:${hex}`) return undefined;
    files.push(file);
  }
  for (const p of scope.absent) {
    if (await fs.lstat(resolve(where.context, p)).catch(() => undefined)) return undefined;
  }
  for (const [d, names] of Object.entries(scope.dirs)) {
    if ((await listing(resolve(where.context, d))) !== names) return undefined;
  }
  const tsconfigs = tsconfigsOf(Object.keys(scope.tsconfigs), where.context);
  if (JSON.stringify(tsconfigs) !== JSON.stringify(scope.tsconfigs)) return undefined;
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The key parameter for what the scope's file tree does not show: absent configs, tsconfigs. */
export function scopeParam(scope: BundleScope): string {
  return hexOf(sha256(JSON.stringify({ absent: scope.absent, tsconfigs: scope.tsconfigs })));
}

/** The recorded scope for `key`, checked as hostile input (it may come from a shared cache). */
export function loadScope(
  store: CacheStore,
  key: string,
  where: ScopeRoots,
): Promise<BundleScope | undefined> {
  return store.getRecord(BUNDLE_SCOPE_KIND, key, (v): v is BundleScope => isScope(v, where));
}

function isScope(v: unknown, where: ScopeRoots): v is BundleScope {
  if (typeof v !== "object" || v === null) return false;
  const s = v as Partial<BundleScope>;
  const hexes = (o: unknown) =>
    typeof o === "object" &&
    o !== null &&
    !Array.isArray(o) &&
    Object.values(o).every((h) => typeof h === "string" && isDigest(`sha256:${h}`));
  if (!hexes(s.files) || !hexes(s.dirs) || !hexes(s.tsconfigs) || !Array.isArray(s.absent)) return false;
  const paths = [
    ...Object.keys(s.files as object),
    ...Object.keys(s.dirs as object),
    ...Object.keys(s.tsconfigs as object),
    ...s.absent,
  ];
  return paths.length <= MAX_PATHS && paths.every((p) => isSafePath(p, where));
}

/** A normalised relative path that stays inside the project or its git work tree. */
function isSafePath(p: unknown, where: ScopeRoots): boolean {
  if (typeof p !== "string" || p.length === 0 || p.length > 4096 || p.includes("\0") || p.includes("\\"))
    return false;
  if (isAbsolute(p) || posix.normalize(p) !== p) return false;
  const abs = resolve(where.context, p);
  return where.roots.some((r) => isInside(abs, r));
}

function tsconfigsOf(dirs: string[], context: string): Record<string, string> {
  const cache = new Map<string, unknown>();
  const out: Record<string, string> = {};
  for (const d of [...new Set(dirs)].sort()) {
    let found: ReturnType<typeof getTsconfig> = null;
    try {
      found = getTsconfig(resolve(context, d), "tsconfig.json", cache as Map<string, never>);
    } catch {
      // An unreadable tsconfig fails esbuild too, with its own error; here it only keys.
    }
    out[d] = hexOf(sha256(JSON.stringify(found ? [rel(context, found.path), found.config] : null)));
  }
  return out;
}

async function hashedFile(abs: string, path: string, statCache: StatCache): Promise<SourceFile | undefined> {
  const st = await fs.lstat(abs, { bigint: true }).catch(() => undefined);
  return st?.isFile() ? keyedFile(abs, path, st, statCache) : undefined;
}

async function fileSha(abs: string): Promise<Digest> {
  return sha256(await fs.readFile(abs));
}

async function listing(dir: string): Promise<string> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).sort();
  return hexOf(sha256(names.join("\0")));
}

function topRoot(where: ScopeRoots): string {
  return [...where.roots].sort((a, b) => a.length - b.length)[0] ?? where.context;
}

const isOutside = (p: string) => p === ".." || p.startsWith("../");

/** `../../node_modules/@s/pkg/lib/x.js` → `../../node_modules/@s/pkg/package.json`. */
function packageJsonOf(p: string): string | undefined {
  const parts = p.split("/");
  const at = parts.lastIndexOf("node_modules");
  if (at < 0) return undefined;
  const size = parts[at + 1]?.startsWith("@") ? 2 : 1;
  if (parts.length <= at + size + 1) return undefined;
  return [...parts.slice(0, at + 1 + size), "package.json"].join("/");
}
const rel = (from: string, to: string) => relative(from, to).split(sep).join("/") || ".";

function isInside(path: string, dir: string): boolean {
  const r = relative(dir, path);
  return r === "" || (!r.startsWith("..") && !isAbsolute(r));
}
