import { posix } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import { TugError } from "../errors.ts";
import { type LayerEntry, planEntries } from "./tar.ts";
import { type Layer, MediaType } from "./types.ts";

/**
 * What one layer puts where, as far as "can this image start?" needs: regular files with their
 * mode, symlinks and hard links with their targets, and the OCI whiteouts that delete lower
 * layers' paths. Paths are absolute and normalised (`/usr/bin/node`). No contents: a node base's
 * table is a few hundred KB of JSON, cached per diff_id so a layer is read at most once.
 */
export interface LayerFileTable {
  files: Record<string, number>;
  symlinks: Record<string, string>;
  hardlinks: Record<string, string>;
  dirs: string[];
  /** `.wh.NAME` entries: NAME is deleted from lower layers. */
  whiteouts: string[];
  /** Directories holding `.wh..wh..opq`: everything below them in lower layers is hidden. */
  opaque: string[];
}

export function emptyFileTable(): LayerFileTable {
  return { files: {}, symlinks: {}, hardlinks: {}, dirs: [], whiteouts: [], opaque: [] };
}

const GZIP = new Set<string>([MediaType.ociLayerGzip, MediaType.dockerLayerGzip]);
const TAR = new Set<string>([MediaType.ociLayer, "application/vnd.docker.image.rootfs.diff.tar"]);

/** Whether tug can list a layer with this media type (zstd needs a newer Node than 20). */
export function canListLayer(mediaType: string): boolean {
  return GZIP.has(mediaType) || TAR.has(mediaType);
}

function clean(name: string): string {
  return posix.normalize(`/${name}`).replace(/\/+$/, "") || "/";
}

/**
 * The table of a layer tug writes from `entries`, exactly as readLayerFileTable would read it back
 * from the tar (parents added, modes normalised): a layer just built is never read again to list it.
 */
export function fileTableOfEntries(entries: readonly LayerEntry[]): LayerFileTable {
  const table = emptyFileTable();
  for (const e of planEntries(entries)) {
    const path = clean(e.path);
    const base = posix.basename(path);
    if (base === ".wh..wh..opq") table.opaque.push(posix.dirname(path));
    else if (base.startsWith(".wh.")) table.whiteouts.push(posix.join(posix.dirname(path), base.slice(4)));
    else if (e.type === "file") table.files[path] = e.mode & 0o111 ? 0o755 : 0o644;
    else if (e.type === "symlink") table.symlinks[path] = e.linkname ?? "";
    else table.dirs.push(path);
  }
  return table;
}

/** Reads a layer's tar headers (skipping contents) into its file table. */
export async function readLayerFileTable(layer: Layer, where: string): Promise<LayerFileTable> {
  const table = emptyFileTable();
  const extract = tar.extract();
  extract.on("entry", (header, stream, next) => {
    const path = clean(header.name);
    const base = posix.basename(path);
    const dir = posix.dirname(path);
    if (base === ".wh..wh..opq") table.opaque.push(dir);
    else if (base.startsWith(".wh.")) table.whiteouts.push(posix.join(dir, base.slice(4)));
    else if (header.type === "file" || header.type === "contiguous-file")
      table.files[path] = header.mode ?? 0;
    else if (header.type === "symlink") table.symlinks[path] = header.linkname ?? "";
    else if (header.type === "link") table.hardlinks[path] = clean(header.linkname ?? "");
    else if (header.type === "directory") table.dirs.push(path);
    stream.on("end", next);
    // A failing source destroys the entry too; the pipeline below reports that error once.
    stream.on("error", () => {});
    stream.resume();
  });
  const mediaType = layer.mediaType();
  try {
    const compressed = await layer.compressed();
    if (GZIP.has(mediaType)) await pipeline(compressed, createGunzip(), extract);
    else await pipeline(compressed, extract);
  } catch (e) {
    const inner = e instanceof TugError ? e : undefined;
    throw new TugError({
      what: `cannot list the files of layer ${await layer.digest()}: ${inner ? inner.what : (e as Error).message}`,
      where,
      hint:
        inner?.hint ??
        "the layer could not be read as a tar (a broken or incomplete base?); copy the base again, or set entrypoint_check: false",
      cause: e,
    });
  }
  return table;
}

type Entry = { kind: "file"; mode: number } | { kind: "symlink"; target: string } | { kind: "dir" };

/** The image's filesystem as the runtime unpacks it: layers in order, whiteouts applied. */
export function mergeFileTables(tables: LayerFileTable[]): Map<string, Entry> {
  const fs = new Map<string, Entry>();
  const removeUnder = (dir: string, self: boolean) => {
    const prefix = dir === "/" ? "/" : `${dir}/`;
    for (const p of [...fs.keys()]) if (p.startsWith(prefix) || (self && p === dir)) fs.delete(p);
  };
  for (const t of tables) {
    // Whiteouts hide lower layers only, so they apply before this layer's own entries.
    for (const dir of t.opaque) removeUnder(dir, false);
    for (const p of t.whiteouts) removeUnder(p, true);
    for (const d of t.dirs) {
      const was = fs.get(d);
      if (was && was.kind !== "dir") fs.delete(d); // a file or link replaced by a directory
      fs.set(d, { kind: "dir" });
    }
    for (const [p, mode] of Object.entries(t.files)) fs.set(p, { kind: "file", mode });
    for (const [p, target] of Object.entries(t.symlinks)) fs.set(p, { kind: "symlink", target });
    for (const [p, target] of Object.entries(t.hardlinks)) {
      const linked = fs.get(target);
      if (linked) fs.set(p, linked);
    }
  }
  return fs;
}

export type Resolution =
  | { found: string }
  | { missing: "not-found" | "not-executable" | "symlink-loop" | "directory"; path: string };

/**
 * Follows `path` through the merged filesystem the way the kernel would: symlinks in any
 * component (a merged-/usr base has /bin → usr/bin), relative targets against their directory,
 * absolute ones against the image root, at most 40 links (Linux's MAXSYMLINKS).
 */
export function resolveInImage(fs: Map<string, Entry>, path: string): Resolution {
  let parts = clean(path).split("/").filter(Boolean);
  let done: string[] = [];
  let hops = 0;
  while (parts.length) {
    const name = parts.shift() as string;
    if (name === "..") {
      done.pop();
      continue;
    }
    const at = `/${[...done, name].join("/")}`;
    const entry = fs.get(at);
    if (entry?.kind === "symlink") {
      if (++hops > 40) return { missing: "symlink-loop", path };
      const target = entry.target;
      parts = [...target.split("/").filter((p) => p && p !== "."), ...parts];
      if (target.startsWith("/")) done = [];
      continue;
    }
    // Directories are often implied by their files (umoci and tug write them, not every tool).
    if (!entry && parts.length && [...fs.keys()].some((k) => k.startsWith(`${at}/`))) {
      done.push(name);
      continue;
    }
    if (!entry) return { missing: "not-found", path };
    if (parts.length && entry.kind !== "dir") return { missing: "not-found", path };
    done.push(name);
    if (!parts.length) {
      if (entry.kind === "dir") return { missing: "directory", path };
      if (entry.kind === "file" && (entry.mode & 0o111) === 0) return { missing: "not-executable", path };
    }
  }
  return { found: `/${done.join("/")}` };
}

/**
 * Where the runtime finds `argv0`: as given when it has a slash (relative to the working
 * directory), else the first match along the image's PATH (runc's default when unset).
 */
export function findExecutable(
  fs: Map<string, Entry>,
  argv0: string,
  opts: { path: string | undefined; workdir: string | undefined },
): { resolution: Resolution; tried: string[] } {
  if (argv0.includes("/")) {
    const abs = posix.isAbsolute(argv0) ? argv0 : posix.join(opts.workdir || "/", argv0);
    return { resolution: resolveInImage(fs, abs), tried: [abs] };
  }
  const dirs = (opts.path ?? DEFAULT_PATH).split(":").filter(Boolean);
  const tried: string[] = [];
  let firstProblem: Resolution | undefined;
  for (const dir of dirs) {
    const candidate = posix.join(dir.startsWith("/") ? dir : posix.join(opts.workdir || "/", dir), argv0);
    tried.push(candidate);
    const r = resolveInImage(fs, candidate);
    if ("found" in r) return { resolution: r, tried };
    if (r.missing !== "not-found") firstProblem ??= r;
  }
  return { resolution: firstProblem ?? { missing: "not-found", path: argv0 }, tried };
}

/** The PATH runc and podman give a process whose image sets none. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
