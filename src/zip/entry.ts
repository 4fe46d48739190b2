import type { Readable } from "node:stream";

/** What a zip entry's bytes are, known before they are written (so no data descriptors). */
export interface EntryIdentity {
  /** 0 = stored, 8 = raw deflate. */
  method: 0 | 8;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
}

interface Named {
  /** In-zip path: posix, relative, no "." or ".." components. */
  name: string;
  /** Permission bits; only "executable or not" survives (0755 / 0644). Defaults to 0644. */
  mode?: number;
}

/** Content held in memory, compressed by the writer. */
export interface ZipDataEntry extends Named {
  data: Uint8Array;
}

/** Content read from a host file, compressed by the writer without holding the file in memory. */
export interface ZipFileEntry extends Named {
  source: string;
}

/** Bytes already compressed (a cached entry, or an entry of another zip), copied as they are. */
export interface ZipRawEntry extends Named, EntryIdentity {
  raw: () => Readable | Uint8Array | Promise<Readable | Uint8Array>;
}

/** A directory entry; `name` ends with "/". Optional: unzip and Lambda create parents anyway. */
export interface ZipDirEntry {
  name: string;
  dir: true;
}

export type ZipEntry = ZipDataEntry | ZipFileEntry | ZipRawEntry | ZipDirEntry;

export function isDirEntry(e: ZipEntry): e is ZipDirEntry {
  return "dir" in e;
}

/** 0755 for anything executable, else 0644: umask and host modes must not reach the bytes. */
export function normalizeMode(mode: number | undefined): number {
  return mode !== undefined && mode & 0o111 ? 0o755 : 0o644;
}

/**
 * Why `name` would land outside the extraction root (zip-slip), or undefined when it stays
 * inside. Backslashes count as separators and drive letters as absolute, as Windows tools read them.
 */
export function escapeReason(name: string): string | undefined {
  if (name === "") return "it is empty";
  if (name.includes("\0")) return "it contains a NUL byte";
  if (name.startsWith("/") || name.startsWith("\\")) return "it is absolute";
  if (/^[A-Za-z]:/.test(name)) return "it starts with a drive letter";
  if (name.split(/[/\\]/).includes("..")) return 'it contains ".."';
  return undefined;
}

/** Why the writer refuses `name`, or undefined: safe, and spelled the one canonical way. */
export function invalidNameReason(name: string, dir: boolean): string | undefined {
  const escapes = escapeReason(name);
  if (escapes) return escapes;
  if (name.includes("\\")) return "it contains a backslash (zip names use /)";
  if (dir !== name.endsWith("/")) return dir ? 'a directory name must end with "/"' : 'it ends with "/"';
  const parts = (dir ? name.slice(0, -1) : name).split("/");
  if (parts.some((p) => p === "" || p === ".")) return 'it has an empty or "." component';
  return undefined;
}
