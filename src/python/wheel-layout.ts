import { createReadStream } from "node:fs";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import { TugError } from "../errors.ts";
import {
  invalidNameReason,
  isDirEntry,
  normalizeMode,
  type ZipEntry,
  type ZipRawEntry,
} from "../zip/entry.ts";
import { readWheelTable, type WheelRow } from "./wheel-table.ts";

export interface StripOptions {
  /** Drop `test/` and `tests/` directories inside packages. */
  tests?: boolean;
  /** Drop type stubs (`*.pyi`) and `py.typed` markers: nothing reads them at run time. */
  pyi?: boolean;
  /** Drop `doc/`, `docs/`, `examples/` directories and `*.rst`/`*.md` files outside `.dist-info`. */
  docs?: boolean;
}

export interface WheelLayoutOptions {
  strip?: StripOptions;
  /** Files under tests directories (zip paths) that `strip.tests` keeps: kept modules import them (kept-tests.ts). */
  keptTests?: readonly string[];
}

/**
 * The entries a wheel contributes to a Lambda zip, which Lambda puts on `sys.path` as the task
 * root, laid out as `pip install --target` would (wheel spec, "Installing a wheel"):
 * - the wheel root (purelib or platlib, whichever `Root-Is-Purelib` says) goes to the zip root;
 * - `NAME.data/purelib/*` and `NAME.data/platlib/*` go to the root too;
 * - `NAME.data/data/*` goes to the root, as pip's `--target` moves the data scheme there;
 * - `NAME.data/scripts/*` and `NAME.data/headers/*` are dropped: nothing on Lambda runs console
 *   scripts from the task root, and C headers only matter for building;
 * - `NAME.dist-info/` is kept (importlib.metadata reads versions and entry points from it);
 * - `__pycache__/` and `*.pyc`/`*.pyo` are dropped: bytecode for the build host's Python is not the
 *   runtime's, and Lambda's file system is read-only, so the runtime compiles in memory anyway.
 * Entries keep their compressed bytes (copied, never recompressed) and get 0644/0755 from the
 * wheel's exec bits. Directory entries are left out; extraction creates parents.
 */
export async function wheelEntries(wheelPath: string, opts: WheelLayoutOptions = {}): Promise<ZipRawEntry[]> {
  const rows = await readWheelTable(wheelPath);
  const read = (row: WheelRow) =>
    row.compressedSize === 0
      ? new Uint8Array()
      : createReadStream(wheelPath, { start: row.dataOffset, end: row.dataOffset + row.compressedSize - 1 });
  return layoutWheel(wheelPath, rows, read, opts);
}

/** `wheelEntries` over a file table already at hand (see wheel-table.ts), reading through `read`. */
export function layoutWheel(
  wheelPath: string,
  rows: readonly WheelRow[],
  read: (row: WheelRow) => Uint8Array | Readable | Promise<Uint8Array | Readable>,
  opts: WheelLayoutOptions = {},
): ZipRawEntry[] {
  const out: ZipRawEntry[] = [];
  for (const row of rows) {
    const name = installedName(row.name, opts.strip ?? {}, opts.keptTests);
    if (name === undefined) continue;
    const invalid = invalidNameReason(name, false);
    if (invalid) {
      throw new TugError({
        what: `wheel ${basename(wheelPath)} has an entry ${JSON.stringify(row.name)} that cannot be installed: ${invalid}`,
        where: wheelPath,
        hint: "the wheel is malformed; use another version or rebuild it",
      });
    }
    const { method, crc32, compressedSize, uncompressedSize } = row;
    out.push({
      name,
      mode: normalizeMode(row.mode),
      method,
      crc32,
      compressedSize,
      uncompressedSize,
      raw: () => read(row),
    });
  }
  return out;
}

/** Where a wheel path lands in the zip, or undefined when it is left out. */
export function installedName(
  path: string,
  strip: StripOptions = {},
  keptTests: readonly string[] = [],
): string | undefined {
  let name = path;
  const data = /^[^/]+\.data\/([^/]+)\/(.+)$/.exec(path);
  if (data) {
    const scheme = data[1];
    if (scheme !== "purelib" && scheme !== "platlib" && scheme !== "data") return undefined;
    name = data[2] as string;
  }
  const parts = name.split("/");
  const file = parts[parts.length - 1] as string;
  if (parts.includes("__pycache__") || /\.py[co]$/.test(file)) return undefined;
  if (/^[^/]+\.dist-info$/.test(parts[0] as string)) return name;
  const dirs = parts.slice(1, -1); // directories inside a top-level package
  if (strip.tests && dirs.some((d) => d === "tests" || d === "test") && !keptTests.includes(name)) {
    return undefined;
  }
  if (strip.pyi && (file.endsWith(".pyi") || file === "py.typed")) return undefined;
  if (
    strip.docs &&
    (dirs.some((d) => d === "doc" || d === "docs" || d === "examples") || /\.(rst|md)$/.test(file))
  ) {
    return undefined;
  }
  return name;
}

export interface WheelEntries {
  /** The wheel's file name or path, for messages. */
  wheel: string;
  entries: ZipEntry[];
}

/**
 * One entry list from several wheels. Two wheels writing the same path is refused, naming both,
 * unless the content is identical (same CRC and size: e.g. the `__init__.py` of a shared
 * namespace such as `google/`), which is kept once. A file where another wheel has a directory is
 * refused too, as extraction would fail or silently overwrite.
 */
export function mergeWheels(lists: WheelEntries[]): ZipEntry[] {
  const files = new Map<string, { wheel: string; entry: ZipEntry }>();
  const dirs = new Map<string, string>();
  const out: ZipEntry[] = [];
  const collision = (path: string, a: string, b: string, what: string) =>
    new TugError({
      what: `wheels ${basename(a)} and ${basename(b)} both install ${path}${what}`,
      where: `${a}, ${b}`,
      hint: "two distributions provide the same module; drop or pin one of them",
    });
  for (const { wheel, entries } of lists) {
    for (const entry of entries) {
      if (isDirEntry(entry)) continue;
      const prior = files.get(entry.name);
      if (prior) {
        if (prior.wheel === wheel || !sameContent(prior.entry, entry)) {
          throw collision(entry.name, prior.wheel, wheel, " with different content");
        }
        continue;
      }
      const dirOwner = dirs.get(entry.name);
      if (dirOwner) throw collision(entry.name, dirOwner, wheel, " as both a directory and a file");
      const parts = entry.name.split("/");
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join("/");
        const fileOwner = files.get(dir);
        if (fileOwner) throw collision(dir, fileOwner.wheel, wheel, " as both a file and a directory");
        if (!dirs.has(dir)) dirs.set(dir, wheel);
      }
      files.set(entry.name, { wheel, entry });
      out.push(entry);
    }
  }
  return out;
}

function sameContent(a: ZipEntry, b: ZipEntry): boolean {
  if (!("crc32" in a) || !("crc32" in b)) {
    return "data" in a && "data" in b && Buffer.from(a.data).equals(Buffer.from(b.data));
  }
  return a.crc32 === b.crc32 && a.uncompressedSize === b.uncompressedSize;
}
