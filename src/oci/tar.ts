import { closeSync, openSync, readSync } from "node:fs";
import { lstat, open, readdir, readlink, realpath } from "node:fs/promises";
import { dirname, join, posix, relative, resolve, sep } from "node:path";
import { Readable, Transform, type TransformCallback } from "node:stream";
import tar from "tar-stream";
import { TugError } from "../errors.ts";

export interface LayerEntry {
  /** In-image path: posix, no leading slash. */
  path: string;
  type: "file" | "dir" | "symlink";
  /** Permission bits; only the executable bits of files survive normalisation. */
  mode: number;
  /** Expected size of a file; `source` must still have this size when it is read. */
  size?: number;
  /** Absolute host path of a file's content. */
  source?: string;
  /** Inline content instead of `source`. */
  data?: Uint8Array;
  linkname?: string;
}

export interface TarOptions {
  /** Entry mtime in seconds; defaults to SOURCE_DATE_EPOCH, else 0. */
  mtime?: number;
}

// Files at most this big are read in one call; larger ones are streamed in chunks of this size.
const CHUNK = 1 << 20;

/** Normalises an in-image path: posix, no leading "/" or "./", no "." / ".." / empty components. */
export function normalizeLayerPath(p: string): string {
  const parts = p.split("/").filter((s) => s !== "" && s !== ".");
  if (parts.includes("..")) {
    throw new TugError({ what: `layer path ${p} contains ".."`, hint: "use paths inside the image root" });
  }
  return parts.join("/");
}

/** mtime for layer entries: SOURCE_DATE_EPOCH (reproducible-builds.org) when set, else the epoch. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === "") return 0;
  if (!/^\d+$/.test(v)) {
    throw new TugError({
      what: `SOURCE_DATE_EPOCH=${v} is not an integer number of seconds`,
      hint: "set it to e.g. $(git log -1 --format=%ct), or unset it",
    });
  }
  return Number(v);
}

function normalizeMode(e: LayerEntry): number {
  if (e.type === "dir") return 0o755;
  if (e.type === "symlink") return 0o777;
  return e.mode & 0o111 ? 0o755 : 0o644;
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Sorted, de-duplicated entries with every missing parent directory added. */
export function planEntries(entries: readonly LayerEntry[]): LayerEntry[] {
  const byPath = new Map<string, LayerEntry>();
  for (const e of entries) {
    const path = normalizeLayerPath(e.path);
    if (path === "") {
      if (e.type === "dir") continue; // the image root itself is never an entry
      throw new TugError({ what: `a layer ${e.type} entry has an empty path` });
    }
    const prev = byPath.get(path);
    if (prev && !(prev.type === "dir" && e.type === "dir")) {
      throw new TugError({ what: `layer path ${path} is given twice (${prev.type} and ${e.type})` });
    }
    byPath.set(path, { ...e, path });
  }
  for (const path of [...byPath.keys()]) {
    for (let p = posix.dirname(path); p !== "."; p = posix.dirname(p)) {
      const parent = byPath.get(p);
      if (parent === undefined) byPath.set(p, { path: p, type: "dir", mode: 0o755 });
      else if (parent.type !== "dir") {
        throw new TugError({
          what: `layer path ${p} is a ${parent.type} but ${path} needs it to be a directory`,
        });
      }
    }
  }
  return [...byPath.values()].sort((a, b) => compareBytes(a.path, b.path));
}

/**
 * A deterministic POSIX tar (pax for long or non-ASCII names) of `entries`: sorted bytewise by
 * path, parents added, uid/gid 0, no user names, fixed mtime, normalised modes. Nothing about
 * the host (umask, TZ, mtimes, readdir order) reaches the bytes.
 */
export function tarStream(entries: readonly LayerEntry[], options: TarOptions = {}): Readable {
  return packEntries(planEntries(entries), options);
}

/** tar's end-of-archive marker: two zero blocks. */
export const TAR_END = Buffer.alloc(1024);

/**
 * Part of a tar, for layers assembled from cached parts (engine/layer-parts.ts): `entries` as
 * tarStream writes them, sorted bytewise, but no parents added and no end-of-archive marker, so
 * parts can be concatenated and closed once with TAR_END.
 */
export function tarSegment(entries: readonly LayerEntry[], options: TarOptions = {}): Readable {
  const sorted = entries
    .map((e) => ({ ...e, path: normalizeLayerPath(e.path) }))
    .sort((a, b) => compareBytes(a.path, b.path));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.path === sorted[i - 1]!.path)
      throw new TugError({ what: `layer path ${sorted[i]!.path} is given twice` });
  }
  return packEntries(sorted, options).pipe(new DropTail(TAR_END.length));
}

/** Passes everything but the last `n` bytes of a stream. */
class DropTail extends Transform {
  #held = Buffer.alloc(0);
  constructor(readonly n: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (chunk.length >= this.n) {
      // Only the small held tail is copied, never the chunk.
      if (this.#held.length > 0) this.push(this.#held);
      if (chunk.length > this.n) this.push(chunk.subarray(0, chunk.length - this.n));
      this.#held = Buffer.from(chunk.subarray(chunk.length - this.n));
    } else {
      const all = Buffer.concat([this.#held, chunk]);
      const pass = Math.max(0, all.length - this.n);
      if (pass > 0) this.push(all.subarray(0, pass));
      this.#held = all.subarray(pass);
    }
    cb();
  }
  override _flush(cb: TransformCallback): void {
    if (!this.#held.equals(TAR_END.subarray(0, this.#held.length)) || this.#held.length !== this.n)
      cb(new Error("internal: a tar segment did not end with the end-of-archive marker"));
    else cb();
  }
}

function packEntries(planned: readonly LayerEntry[], options: TarOptions): Readable {
  const mtime = new Date((options.mtime ?? sourceDateEpoch()) * 1000);
  const pack = tar.pack();
  const out = Readable.from(pack, { objectMode: false, highWaterMark: 4 * CHUNK });
  void (async () => {
    for (const e of planned) await writeEntry(pack, e, mtime);
    pack.finalize();
  })().catch((err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))));
  return out;
}

async function writeEntry(pack: tar.Pack, e: LayerEntry, mtime: Date): Promise<void> {
  const base = { mode: normalizeMode(e), uid: 0, gid: 0, mtime };
  if (e.type === "dir") {
    // Trailing slash as GNU tar and BuildKit write it; tar-stream does not add one itself.
    await addEntry(pack, { ...base, name: `${e.path}/`, type: "directory" }).done;
    return;
  }
  if (e.type === "symlink") {
    if (!e.linkname) throw new TugError({ what: `symlink ${e.path} in a layer has no target` });
    await addEntry(pack, { ...base, name: e.path, type: "symlink", linkname: e.linkname }).done;
    return;
  }
  if (e.data !== undefined) {
    const data = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
    await addEntry(pack, { ...base, name: e.path, type: "file", size: data.length }, data).done;
    return;
  }
  if (e.source === undefined) throw new TugError({ what: `file ${e.path} in a layer has no source or data` });
  if (e.size !== undefined && e.size <= SMALL_FILE) {
    const data = readSmallFile(e.path, e.source, e.size);
    await addEntry(pack, { ...base, name: e.path, type: "file", size: data.length }, data).done;
    return;
  }
  await writeFileFromSource(pack, e.path, e.source, e.size, base);
}

// Small files are read synchronously: an async read is 4+ threadpool round trips (open, read,
// probe, close) queued behind gzip jobs, which made a 20k-file tree ~10x slower; a page-cache
// read of a few KiB blocks the loop for microseconds.
const SMALL_FILE = 256 * 1024;

function fileChanged(source: string, name: string, size: number, now: string): TugError {
  return new TugError({
    what: `file changed during build: ${source} (expected ${size} bytes, ${now})`,
    where: name,
    hint: "stop whatever is writing it, or exclude it from the context, and build again",
  });
}

function readSmallFile(name: string, source: string, size: number): Buffer {
  const fd = openSync(source, "r");
  try {
    // One byte more than expected, so growth shows up as well as truncation.
    const buf = Buffer.allocUnsafe(size + 1);
    let n = 0;
    for (let r = 1; r > 0 && n <= size; n += r) r = readSync(fd, buf, n, size + 1 - n, n);
    if (n > size) throw fileChanged(source, name, size, "it has grown");
    if (n < size) throw fileChanged(source, name, size, `it now has ${n}`);
    return buf.subarray(0, size);
  } finally {
    closeSync(fd);
  }
}

async function writeFileFromSource(
  pack: tar.Pack,
  name: string,
  source: string,
  expected: number | undefined,
  base: { mode: number; uid: number; gid: number; mtime: Date },
): Promise<void> {
  const fh = await open(source, "r");
  try {
    const size = expected ?? (await fh.stat()).size;
    const changed = (now: string) => fileChanged(source, name, size, now);
    // The tar header promises `size` bytes, so every byte is checked before it reaches the pack:
    // a short or long read must fail the build, never produce a corrupt tar.
    const { sink, done } = addEntry(pack, { ...base, name, type: "file", size });
    let pos = 0;
    while (pos < size) {
      if (isDead(sink)) throw new Error("tar stream closed while writing");
      const want = Math.min(CHUNK, size - pos);
      const { bytesRead, buffer } = await fh.read(Buffer.allocUnsafe(want), 0, want, pos);
      if (bytesRead === 0) {
        const err = changed(`it now has ${pos}`);
        sink.destroy(err);
        throw err;
      }
      pos += bytesRead;
      if (!sink.write(bytesRead === want ? buffer : buffer.subarray(0, bytesRead))) await drained(sink);
    }
    const probe = await fh.read(Buffer.alloc(1), 0, 1, size);
    if (probe.bytesRead !== 0) {
      const err = changed("it has grown");
      sink.destroy(err);
      throw err;
    }
    sink.end(undefined); // streamx types make the argument required
    await done;
  } finally {
    await fh.close();
  }
}

type Sink = ReturnType<tar.Pack["entry"]>;

/** Adds an entry; `done` settles when tar-stream has written all of it (its callback). */
function addEntry(
  pack: tar.Pack,
  header: Partial<tar.Header> & { name: string },
  data?: Buffer,
): { sink: Sink; done: Promise<void> } {
  let sink: Sink | undefined;
  const done = new Promise<void>((res, rej) => {
    const cb = (err?: Error | null) => (err ? rej(err) : res());
    sink = data === undefined ? pack.entry(header, cb) : pack.entry(header, data, cb);
  });
  // Failures reach us through the callback (and the pack); an unheard 'error' event would throw.
  sink!.on("error", () => {});
  done.catch(() => {}); // the writer may fail first and throw its own, clearer error
  return { sink: sink!, done };
}

// streamx (under tar-stream) marks a stream `destroying` before it emits close.
function isDead(s: Sink): boolean {
  return s.destroyed || s.destroying;
}

function drained(sink: Sink): Promise<void> {
  return new Promise((res, rej) => {
    if (isDead(sink)) {
      rej(new Error("tar entry closed while writing"));
      return;
    }
    const cleanup = () => {
      sink.off("drain", onDrain);
      sink.off("close", onClose);
    };
    const onDrain = () => {
      cleanup();
      res();
    };
    const onClose = () => {
      cleanup();
      rej(new Error("tar entry closed while writing"));
    };
    sink.on("drain", onDrain);
    sink.on("close", onClose);
  });
}

function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !posix.isAbsolute(rel));
}

/**
 * Entries for everything under host directory `dir`, placed under in-image directory `dest`.
 * Walks with lstat in sorted order; symlinks stay symlinks but must point inside `dir`, since
 * a link to the host outside the context would make the image depend on the build machine.
 */
export async function tarEntriesFromDir(dir: string, dest: string): Promise<LayerEntry[]> {
  const root = resolve(dir);
  const realRoot = await realpath(root);
  const base = normalizeLayerPath(dest);
  const out: LayerEntry[] = [];
  if (base !== "") out.push({ path: base, type: "dir", mode: 0o755 });

  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(root, rel))).sort(compareBytes);
    // lstat a directory's names concurrently: one at a time, threadpool latency dominates.
    const stats = await Promise.all(names.map((name) => lstat(join(root, rel, name))));
    for (const [i, name] of names.entries()) {
      const relPath = rel === "" ? name : `${rel}/${name}`;
      const host = join(root, relPath);
      const path = base === "" ? relPath : `${base}/${relPath}`;
      const st = stats[i]!;
      if (st.isDirectory()) {
        out.push({ path, type: "dir", mode: st.mode & 0o7777 });
        await walk(relPath);
      } else if (st.isFile()) {
        out.push({ path, type: "file", mode: st.mode & 0o7777, size: st.size, source: host });
      } else if (st.isSymbolicLink()) {
        const target = await readlink(host);
        await checkSymlink(root, realRoot, relPath, host, target);
        out.push({ path, type: "symlink", mode: 0o777, linkname: target });
      } else {
        throw new TugError({
          what: `${host} is neither a file, a directory nor a symlink`,
          hint: "remove it from the context or exclude it; sockets, fifos and devices cannot go into a layer",
        });
      }
    }
  };
  await walk("");
  return out;
}

async function checkSymlink(
  root: string,
  realRoot: string,
  relPath: string,
  host: string,
  target: string,
): Promise<void> {
  const escapes = () =>
    new TugError({
      what: `symlink ${relPath} points outside the context (to ${target})`,
      where: host,
      hint: "copy the target into the context, or make the link relative to a path inside it",
    });
  // An absolute target names a path on the build host, which means something else in the image.
  if (posix.isAbsolute(target)) throw escapes();
  if (!isInside(root, resolve(dirname(host), target))) throw escapes();
  // Lexically inside is not enough when the link passes through another symlink ("d -> .", "x -> d/..").
  let real: string;
  try {
    real = await realpath(host);
  } catch {
    return; // dangling but lexically inside: kept as is
  }
  if (!isInside(realRoot, real)) throw escapes();
}
