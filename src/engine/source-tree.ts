import { createHash } from "node:crypto";
import { type BigIntStats, type Dirent, promises as fs } from "node:fs";
import { join, resolve, sep } from "node:path";
import { TugError } from "../errors.ts";
import { type Digest, digestFile, sha256 } from "../oci/digest.ts";
import { Limiter } from "../util/limiter.ts";
import { loadContextRules, readIgnoreFile } from "./ignore-files.ts";
import { type IgnoreSettings, loadMatchers } from "./ignore-rules.ts";
import type { StatCache } from "./stat-cache.ts";

export interface SourceFile {
  /** Path relative to the tree root, posix separators. */
  path: string;
  type: "file" | "dir" | "symlink";
  /** True when any execute bit is set: the only mode bit that survives into layers and keys. */
  executable: boolean;
  size: number;
  digest?: Digest;
  linkname?: string;
  /** Absolute host path, for readers; never part of a key. */
  abs: string;
  /** size:mtime:ctime when scanned (files), to detect an edit made while a layer is built. */
  stamp?: string;
}

export interface SourceTree {
  root: string;
  files: SourceFile[];
  /** Digest of every path, type, exec bit and content digest: the tree's identity in keys. */
  digest: Digest;
}

export interface ScanOptions {
  statCache?: StatCache;
  /** Relative posix paths (files or directories) to leave out. */
  ignore?: (path: string, isDir: boolean) => boolean;
  /**
   * The tree is a build context: leave out what its .dockerignore, .gitignore files (unless
   * `git: false`), .tugignore and `patterns` exclude. Excluded files are never opened.
   */
  ignoreFiles?: IgnoreSettings;
  /** For error messages: which target this tree belongs to. */
  where?: string;
  /** Absolute directories never entered (tug's own output directories: Engine.outputDirs). */
  skipDirs?: ReadonlySet<string>;
}

const ALWAYS_IGNORED = new Set([".git", ".tug"]);

/**
 * Walks a tree in sorted order, hashing file contents (or taking them from the stat cache).
 * Symlinks stay symlinks but must not point outside the tree: a layer must never depend on
 * host files the context does not contain.
 */
export async function scanTree(root: string, opts: ScanOptions = {}): Promise<SourceTree> {
  const absRoot = resolve(root);
  const files: SourceFile[] = [];
  const pending: Promise<void>[] = [];
  let failure: unknown;
  // Bounded: a cold scan of a big tree must not open every file at once (EMFILE).
  const hashing = new Limiter(32);
  const rules = opts.ignoreFiles ? await loadContextRules(absRoot, opts.ignoreFiles) : undefined;
  const walk = async (dir: string, relDir: string): Promise<void> => {
    const entries = (await fs.readdir(dir, { withFileTypes: true })).sort(byName);
    if (rules && opts.ignoreFiles?.git) {
      const has = entries.some((e) => e.name === ".gitignore");
      const text = has ? await readIgnoreFile(join(dir, ".gitignore")) : undefined;
      if (text !== undefined) await loadMatchers();
      rules.setGitignore(relDir, text);
    }
    for (const entry of entries) {
      const name = entry.name;
      const abs = join(dir, name);
      const rel = relDir === "" ? name : `${relDir}/${name}`;
      if (ALWAYS_IGNORED.has(name)) continue;
      const isDir = entry.isDirectory();
      if (isDir && opts.skipDirs?.has(abs)) continue;
      if (opts.ignore?.(rel, isDir)) continue;
      if (rules?.verdict(rel, isDir, false).excluded) {
        // Docker descends into an excluded directory only for an exception naming a path
        // inside it; the directory itself is then shipped only if something under it is.
        if (!isDir || rules.canSkip(rel)) continue;
        const at = files.length;
        await walk(abs, rel);
        if (files.length > at)
          files.splice(at, 0, { path: rel, type: "dir", executable: true, size: 0, abs });
        continue;
      }
      const st = await fs.lstat(abs, { bigint: true });
      if (st.isDirectory()) {
        files.push({ path: rel, type: "dir", executable: true, size: 0, abs });
        await walk(abs, rel);
      } else if (st.isSymbolicLink()) {
        const linkname = await fs.readlink(abs);
        const target = resolve(dir, linkname);
        if (target !== absRoot && !target.startsWith(absRoot + sep)) {
          throw new TugError({
            what: `symlink ${rel} points outside the build context (to ${linkname})`,
            where: opts.where,
            hint: "copy the file into the context, or make the symlink point inside it",
          });
        }
        files.push({ path: rel, type: "symlink", executable: false, size: 0, linkname, abs });
      } else if (st.isFile()) {
        const file: SourceFile = {
          path: rel,
          type: "file",
          executable: (Number(st.mode) & 0o111) !== 0,
          size: Number(st.size),
          abs,
          stamp: stampOf(st),
        };
        files.push(file);
        const cached = opts.statCache?.lookup(abs, st);
        if (cached) file.digest = cached;
        else
          pending.push(
            hashing
              .run(() => digestFile(abs))
              .then(({ digest }) => {
                file.digest = digest;
                opts.statCache?.remember(abs, st, digest);
              })
              .catch((e: unknown) => {
                failure ??= e;
              }),
          );
      }
      // Sockets, fifos and devices are not layer content; skip them silently like docker does.
    }
  };
  const rootStat = await fs.stat(absRoot).catch(() => undefined);
  if (!rootStat?.isDirectory()) {
    throw new TugError({
      what: `${rootStat ? "not a directory" : "directory does not exist"}: ${absRoot}`,
      where: opts.where,
      hint: "check `context:` (relative to tug.yaml), or create the directory",
    });
  }
  try {
    await walk(absRoot, "");
  } catch (e) {
    failure ??= e;
  }
  await Promise.all(pending);
  if (failure !== undefined) throw changedDuringScan(failure, opts.where);
  return { root: absRoot, files, digest: treeDigest(files) };
}

function byName(a: Dirent, b: Dirent): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function stampOf(st: BigIntStats): string {
  return `${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** A file that vanished while the tree was read is a user-facing race, not an internal error. */
function changedDuringScan(e: unknown, where: string | undefined): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== "ENOENT" && code !== "ENOTDIR") return e;
  return new TugError({
    what: `${(e as NodeJS.ErrnoException).path ?? "a file"} disappeared while tug was reading the context`,
    where,
    hint: "something changed the files during the build; run it again",
  });
}

/**
 * Throws when a scanned file changed after the scan (an edit racing the build): the layer
 * would hold the new bytes under the old content's key, and that entry must not be stored.
 */
export async function assertUnchanged(files: SourceFile[], where: string | undefined): Promise<void> {
  for (const f of files) {
    if (f.type !== "file" || !f.stamp) continue;
    const st = await fs.lstat(f.abs, { bigint: true }).catch(() => undefined);
    if (!st || stampOf(st) !== f.stamp) {
      throw new TugError({
        what: `${f.path} changed while its layer was being built`,
        where,
        hint: "run the build again (nothing was stored for this layer)",
      });
    }
  }
}

function treeDigest(files: SourceFile[]): Digest {
  const h = createHash("sha256");
  for (const f of files) {
    h.update(`${f.type} ${f.executable ? "x" : "-"} ${f.path}\0${f.digest ?? f.linkname ?? ""}\n`);
  }
  return `sha256:${h.digest("hex")}`;
}

/** Digest of a subset of a tree (e.g. only the files a step reads). */
export function subtreeDigest(files: SourceFile[]): Digest {
  return files.length === 0 ? sha256("") : treeDigest(files);
}

/**
 * One file named outside a scan (a Go module's file, a bundle's input beyond its context) as a
 * key input at `path`, hashed through the stat cache. A symlink's own stamp says nothing about
 * its target's bytes: those are hashed every time.
 */
export async function keyedFile(
  abs: string,
  path: string,
  st: BigIntStats,
  statCache: StatCache,
): Promise<SourceFile> {
  let digest = st.isSymbolicLink() ? undefined : statCache.lookup(abs, st);
  if (!digest) {
    digest = (await digestFile(abs)).digest;
    if (!st.isSymbolicLink()) statCache.remember(abs, st, digest);
  }
  return {
    path,
    type: "file",
    executable: (Number(st.mode) & 0o111) !== 0,
    size: Number(st.size),
    digest,
    abs,
    stamp: `${st.size}:${st.mtimeNs}:${st.ctimeNs}`,
  };
}
