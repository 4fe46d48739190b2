// A layer assembled from independently cached parts: each part (one installed wheel, say) is kept
// as a tar segment and its gzip members, so a layer whose parts mostly did not change is written
// by copying cached bytes instead of re-reading, re-tarring and re-compressing everything.
// RFC 1952 makes concatenated gzip members one gzip stream, and a tar of concatenated entries
// closed by one end marker is one tar: runtimes see an ordinary layer.
import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream, promises as fs } from "node:fs";
import { posix } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { HashTap } from "../oci/build-layer.ts";
import { type Compression, compressionKey, compressor, layerMediaType } from "../oci/compress.ts";
import { type Digest, isDigest } from "../oci/digest.ts";
import { emptyFileTable, type LayerFileTable } from "../oci/file-table.ts";
import { type LayerEntry, normalizeLayerPath, sourceDateEpoch, TAR_END, tarSegment } from "../oci/tar.ts";
import { readAll } from "../util/read-all.ts";
import type { Engine } from "./engine.ts";
import { type ElfFile, elfFilesOfEntries, isElfFiles } from "./image-files.ts";

export interface LayerPart {
  /** Stable identity within its recipe: the same key always gives the same entries. */
  key: string;
  /** Files and symlinks with inline data; no directories (the layer adds every parent once). */
  entries(): Promise<LayerEntry[]>;
}

interface Blob {
  digest: Digest;
  size: number;
}

interface PartRecord {
  tar: Blob;
  /** The tar segment compressed: equal to `tar` when the layer is not compressed. */
  blob: Blob;
  /** [path, mode (0o755/0o644) or -1 for a symlink, sha256 hex of the content or the link target]. */
  files: Array<[string, number, string]>;
  /** Its ELF files' shared-library needs (image-files.ts). */
  elf: ElfFile[];
}

export interface PartsLayer {
  diffId: Digest;
  digest: Digest;
  size: number;
  mediaType: string;
  table: LayerFileTable;
  elf: ElfFile[];
}

const RECORD_KIND = "layer-part";

function isBlob(v: unknown): v is Blob {
  const b = v as Blob;
  return (
    typeof v === "object" &&
    v !== null &&
    typeof b.digest === "string" &&
    isDigest(b.digest) &&
    Number.isSafeInteger(b.size) &&
    b.size >= 0
  );
}

function isPartRecord(v: unknown): v is PartRecord {
  const r = v as PartRecord;
  return (
    typeof v === "object" &&
    v !== null &&
    isBlob(r.tar) &&
    isBlob(r.blob) &&
    isElfFiles(r.elf) &&
    Array.isArray(r.files) &&
    r.files.every(
      (f) =>
        Array.isArray(f) &&
        f.length === 3 &&
        typeof f[0] === "string" &&
        typeof f[1] === "number" &&
        typeof f[2] === "string",
    )
  );
}

/** Whether `compression` can be assembled from parts (zstd frames could be too; not done yet). */
export function partsSupported(c: Compression): boolean {
  return c.kind === "gzip" || c.kind === "none";
}

/**
 * The layer of `parts` in order, written to `outFile`; undefined when the parts cannot be
 * concatenated into the layer the whole-layer path would describe (a path in two parts, a file
 * where another part needs a directory, a whiteout): the caller then builds the layer whole, which
 * also reports such conflicts in its own words.
 */
export async function layerFromParts(
  engine: Engine,
  scope: string,
  parts: readonly LayerPart[],
  compression: Compression,
  outFile: string,
): Promise<PartsLayer | undefined> {
  const mtime = sourceDateEpoch();
  const keyOf = (p: LayerPart) => `${scope}|${p.key}|${compressionKey(compression)}|${mtime}`;
  const records: PartRecord[] = [];
  for (const p of parts) records.push(await partRecord(engine, keyOf(p), p, compression, mtime));
  const plan = planParts(records);
  if (!plan) return undefined;
  const head = await readAll(tarSegment(plan.dirs, { mtime }));
  const headBlob =
    compression.kind === "none" ? head : await readAll(Readable.from([head]).pipe(compressor(compression)));
  const endBlob =
    compression.kind === "none"
      ? TAR_END
      : await readAll(Readable.from([TAR_END]).pipe(compressor(compression)));
  const diff = createHash("sha256").update(head);
  const bad: number[] = [];
  const out = new HashTap();
  async function* blobBytes(): AsyncGenerator<Buffer> {
    yield headBlob;
    for (const [i, r] of records.entries()) {
      const check = createHash("sha256");
      const alsoDiff = compression.kind === "none" ? diff : undefined;
      try {
        for await (const c of fileChunks(engine.store.blobPath(r.blob.digest), r.blob.size)) {
          check.update(c);
          alsoDiff?.update(c);
          yield c;
        }
      } catch (e) {
        if (!isMissing(e)) throw e; // removed meanwhile (a cache gc): produced again below
      }
      if (`sha256:${check.digest("hex")}` !== r.blob.digest) bad.push(i);
    }
    yield endBlob;
  }
  const diffOfTars = async () => {
    if (compression.kind === "none") return;
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    for (const [i, r] of records.entries()) {
      if (!(await hashInto(engine.store.blobPath(r.tar.digest), diff, r.tar.digest, buf))) bad.push(i);
    }
  };
  await Promise.all([pipeline(Readable.from(blobBytes()), out, createWriteStream(outFile)), diffOfTars()]);
  diff.update(TAR_END);
  if (bad.length > 0) {
    // A part's cached bytes changed on disk: drop them, so the next attempt produces them again.
    for (const i of new Set(bad)) {
      await engine.store.dropBlob(records[i]!.blob.digest);
      await engine.store.dropBlob(records[i]!.tar.digest);
    }
    await fs.rm(outFile, { force: true });
    throw new PartsDamaged();
  }
  const blob = out.result();
  return {
    diffId: `sha256:${diff.digest("hex")}`,
    digest: blob.digest,
    size: blob.size,
    mediaType: layerMediaType(compression),
    table: plan.table,
    elf: records.flatMap((r) => r.elf),
  };
}

/** Cached part bytes that no longer match their digest (removed; building again recreates them). */
export class PartsDamaged extends Error {
  constructor() {
    super("a cached layer part did not match its digest");
  }
}

const READ_CHUNK = 1 << 20;
// Whole-file reads up to this size: one allocation of the exact size, no copy out of a pool.
const WHOLE_FILE = 16 << 20;

/** A file's bytes as buffers the consumer may keep (they are never reused). */
async function* fileChunks(path: string, size: number): AsyncGenerator<Buffer> {
  if (size <= WHOLE_FILE) {
    yield await fs.readFile(path);
    return;
  }
  for await (const c of createReadStream(path, { highWaterMark: 4 * READ_CHUNK })) yield c as Buffer;
}

/** Feeds a file to `into` and to its own hash (through one reused buffer); true when it has `expected`. */
function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === "ENOENT";
}

async function hashInto(path: string, into: Hash, expected: Digest, buf: Buffer): Promise<boolean> {
  const own = createHash("sha256");
  const fh = await fs.open(path, "r").catch((e: unknown) => {
    if (isMissing(e)) return undefined;
    throw e;
  });
  if (!fh) return false;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      own.update(chunk);
      into.update(chunk);
    }
  } finally {
    await fh.close();
  }
  return `sha256:${own.digest("hex")}` === expected;
}

async function partRecord(
  engine: Engine,
  key: string,
  part: LayerPart,
  compression: Compression,
  mtime: number,
): Promise<PartRecord> {
  const known = await engine.store.getRecord(RECORD_KIND, key, isPartRecord);
  if (
    known &&
    (await engine.store.hasBlob(known.tar.digest)) &&
    (await engine.store.hasBlob(known.blob.digest))
  )
    return known;
  const entries = await part.entries();
  const files: PartRecord["files"] = entries.map((e) => {
    const path = normalizeLayerPath(e.path);
    if (e.type === "symlink") return [path, -1, e.linkname ?? ""];
    if (e.type !== "file" || e.data === undefined)
      throw new Error(`internal: layer part entry ${path} is not a file with inline data or a symlink`);
    return [path, e.mode & 0o111 ? 0o755 : 0o644, createHash("sha256").update(e.data).digest("hex")];
  });
  const tarTemp = await engine.store.tempPath("part-tar");
  const blobTemp = await engine.store.tempPath("part-blob");
  try {
    const tarTap = new HashTap();
    await pipeline(tarSegment(entries, { mtime }), tarTap, createWriteStream(tarTemp));
    const tar = tarTap.result();
    let blob = tar;
    if (compression.kind !== "none") {
      const blobTap = new HashTap();
      await pipeline(
        createReadStream(tarTemp),
        compressor(compression),
        blobTap,
        createWriteStream(blobTemp),
      );
      blob = blobTap.result();
      await engine.store.ingestBlob(blobTemp, blob.digest);
    }
    await engine.store.ingestBlob(tarTemp, tar.digest);
    const record: PartRecord = { tar, blob, files, elf: elfFilesOfEntries(entries) };
    await engine.store.putRecord(RECORD_KIND, key, record);
    return record;
  } finally {
    await Promise.all([fs.rm(tarTemp, { force: true }), fs.rm(blobTemp, { force: true })]);
  }
}

/** The directories every part's files need, and the layer's file table; undefined on a conflict. */
function planParts(
  records: readonly PartRecord[],
): { dirs: LayerEntry[]; table: LayerFileTable } | undefined {
  const table = emptyFileTable();
  const paths = new Set<string>();
  const dirs = new Set<string>();
  for (const r of records) {
    for (const [path, mode, value] of r.files) {
      if (paths.has(path) || posix.basename(path).startsWith(".wh.")) return undefined;
      paths.add(path);
      if (mode < 0) table.symlinks[`/${path}`] = value;
      else table.files[`/${path}`] = mode;
      for (let d = posix.dirname(path); d !== "." && !dirs.has(d); d = posix.dirname(d)) dirs.add(d);
    }
  }
  for (const d of dirs) if (paths.has(d)) return undefined;
  const sorted = [...dirs].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  table.dirs = sorted.map((d) => `/${d}`);
  return { dirs: sorted.map((path) => ({ path, type: "dir", mode: 0o755 })), table };
}
