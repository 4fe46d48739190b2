import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { TugError } from "../errors.ts";
import { type Digest, digestFile, sha256 } from "../oci/digest.ts";
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
  /** For error messages: which target this tree belongs to. */
  where?: string;
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
  const walk = async (dir: string): Promise<void> => {
    const names = (await fs.readdir(dir)).sort();
    for (const name of names) {
      const abs = join(dir, name);
      const rel = relative(absRoot, abs).split(sep).join("/");
      if (ALWAYS_IGNORED.has(name)) continue;
      const st = await fs.lstat(abs, { bigint: true });
      if (st.isDirectory()) {
        if (opts.ignore?.(rel, true)) continue;
        files.push({ path: rel, type: "dir", executable: true, size: 0, abs });
        await walk(abs);
      } else if (st.isSymbolicLink()) {
        if (opts.ignore?.(rel, false)) continue;
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
        if (opts.ignore?.(rel, false)) continue;
        const file: SourceFile = {
          path: rel,
          type: "file",
          executable: (Number(st.mode) & 0o111) !== 0,
          size: Number(st.size),
          abs,
        };
        files.push(file);
        const cached = opts.statCache?.lookup(abs, st);
        if (cached) file.digest = cached;
        else
          pending.push(
            digestFile(abs).then(({ digest }) => {
              file.digest = digest;
              opts.statCache?.remember(abs, st, digest);
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
  await walk(absRoot);
  await Promise.all(pending);
  return { root: absRoot, files, digest: treeDigest(files) };
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
