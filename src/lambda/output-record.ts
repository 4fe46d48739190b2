import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, relative, sep } from "node:path";
import type { CacheStore } from "../engine/cache-store.ts";
import { hexOf, sha256 } from "../oci/digest.ts";
import { isSha256Hex } from "../util/sha256-hex.ts";
import { type PathKind, PYTHON_FILES, pathKind } from "./path-kind.ts";
import type { LambdaReport } from "./planned-zip.ts";
import { arrayOf, isCount, isDistribution, isString, isZipDigest, mapOf, shape } from "./record-shape.ts";

// A record from before wheels' sha256s were kept (for the SBOM) is a miss, and is rebuilt once.
const isWheelDistribution = (v: unknown) =>
  isDistribution(v) && isSha256Hex((v as { sha256?: unknown }).sha256);

import type { ThirdPartyNote } from "./third-party-memo.ts";

/** What a built lambda zip depended on and what it produced, for the no-op fast path. */
export interface OutputRecord {
  /** Every input file read (sources, requirements), absolute path → sha256 of its content. */
  files: Record<string, string>;
  /** Paths whose kind (file / directory / nothing) decided something, e.g. import resolution. */
  probes: Record<string, PathKind>;
  /**
   * Directories whose listing decided something (Node: a new `x.ts` beside the `x.js` esbuild
   * picked, a new package in node_modules), absolute path → sha256 of their sorted names.
   */
  dirs?: Record<string, string>;
  /** "npm" for a Node.js lambda: its distributions are npm packages, without a wheel's sha256. */
  ecosystem?: "npm";
  /** The zip and its metadata file as they were right after the rename. */
  outputs: Record<string, FileStamp>;
  digest: string;
  bytes: number;
  unpackedBytes: number;
  /** With each wheel's sha256 (Python): a memo'd build's SBOM comes from here. */
  distributions: Array<{ name: string; version: string; wheel: string; sha256?: string }>;
  /** Shown again on every cached build, until the cause is fixed. */
  warnings?: string[];
  /** Why the build that wrote these outputs ran (for `tug explain`). */
  builtBecause?: string;
  /** What the zip's wheel part was built from, so an edit to first-party code can reuse it. */
  thirdParty?: ThirdPartyNote;
}

export interface FileStamp {
  size: number;
  mtimeNs: string;
  /** Changes on any write, even one that puts the mtime back (touch -r, rsync -t). */
  ctimeNs: string;
  ino: string;
}

export async function stampOf(path: string): Promise<FileStamp | undefined> {
  const st = await stat(path, { bigint: true }).catch(() => undefined);
  if (!st?.isFile()) return undefined;
  return {
    size: Number(st.size),
    mtimeNs: String(st.mtimeNs),
    ctimeNs: String(st.ctimeNs),
    ino: String(st.ino),
  };
}

const isStamp = shape({ size: isCount, mtimeNs: isString, ctimeNs: isString, ino: isString });
const isPathKind = (v: unknown) => v === "file" || v === "dir" || v === "none";

const isRecordShape = shape(
  {
    files: mapOf(isSha256Hex),
    probes: mapOf(isPathKind),
    outputs: mapOf(isStamp),
    digest: isZipDigest,
    bytes: isCount,
    unpackedBytes: isCount,
    distributions: arrayOf(isDistribution),
  },
  {
    dirs: mapOf(isSha256Hex),
    ecosystem: (v: unknown) => v === "npm",
    warnings: arrayOf(isString),
    builtBecause: isString,
    thirdParty: shape({ key: isSha256Hex, entries: isCount, unprovided: arrayOf(isString) }),
  },
);

/** Whether a value read back from the cache is a whole OutputRecord (every input digest checked). */
export function isOutputRecord(v: unknown): v is OutputRecord {
  if (!isRecordShape(v)) return false;
  const r = v as Partial<OutputRecord>;
  return r.ecosystem === "npm" || (r.distributions ?? []).every(isWheelDistribution);
}

/**
 * sha256 (hex) of a directory's sorted entry names; undefined when it is not a directory. tug's
 * own output directory (`.tug`, made by the first build) is not a change to what is built.
 */
export async function listingHash(dir: string): Promise<string | undefined> {
  const names = await readdir(dir).catch(() => undefined);
  return (
    names &&
    hexOf(
      sha256(
        Buffer.from(
          names
            .filter((n) => n !== ".tug")
            .sort()
            .join("\0"),
        ),
      ),
    )
  );
}

/** The record of `key`, or undefined when there is none or it is corrupt (then it is a miss). */
export async function readOutputRecord(
  store: CacheStore | undefined,
  key: string,
): Promise<OutputRecord | undefined> {
  const record = await store?.getRecord<unknown>("lambda-out", key);
  return isOutputRecord(record) ? record : undefined;
}

export function sameStamp(a: FileStamp | undefined, b: FileStamp | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs &&
    a.ino === b.ino
  );
}

/**
 * Why the outputs a record describes are not what the same inputs would build now, or undefined
 * when they are: every input has the recorded content, every probe finds the same kind of thing,
 * and the outputs are the very files written then (size, mtime, ctime, inode). The first
 * difference found is the answer, in words for "why was this rebuilt".
 */
export async function staleReason(record: OutputRecord, root: string): Promise<string | undefined> {
  const shown = (p: string) => relative(root, p).split(sep).join("/") || p;
  const checks = [
    ...Object.entries(record.files).map(async ([path, sha]) => {
      const data = await readFile(path).catch(() => undefined);
      if (data === undefined) return `${shown(path)} was removed`;
      return hexOf(sha256(data)) === sha ? undefined : `${shown(path)} changed`;
    }),
    ...Object.entries(record.probes).map(async ([path, kind]) => {
      const now = await pathKind(path);
      if (now === kind) return undefined;
      const what = basename(path) === PYTHON_FILES ? `Python files in ${shown(dirname(path))}` : shown(path);
      return now === "none" ? `${what}: removed` : kind === "none" ? `${what}: new` : `${what}: now a ${now}`;
    }),
    ...Object.entries(record.dirs ?? {}).map(async ([path, want]) =>
      (await listingHash(path)) === want ? undefined : `${shown(path)}: files added or removed`,
    ),
    ...Object.entries(record.outputs).map(async ([path, want]) =>
      sameStamp(await stampOf(path), want)
        ? undefined
        : `${shown(path)} was changed or removed since it was built`,
    ),
  ];
  return (await Promise.all(checks)).find((r) => r !== undefined);
}

export interface PreviousOutput {
  /** Why it must be built, in words: "lambdas/plot.py changed". */
  reason?: string;
  /** The zip path when it is still the file the last build wrote (so its head can be reused). */
  previous: string | undefined;
  /** The report to give when nothing changed at all. */
  current: LambdaReport | undefined;
  /** The last build's record, when its zip is still the file written then. */
  record?: OutputRecord;
}

/**
 * What the last build of this key left: when its record's inputs are all unchanged and its
 * outputs untouched, the zip is current and nothing needs doing; when only inputs changed, the
 * zip is still a good base to copy unchanged entries from.
 */
export async function previousOutput(
  store: CacheStore | undefined,
  key: string,
  zipPath: string,
  report: Pick<LambdaReport, "target" | "kind">,
  started: number,
  root: string,
): Promise<PreviousOutput> {
  const record = await readOutputRecord(store, key);
  const want = record?.outputs[zipPath];
  const previous = want && sameStamp(await stampOf(zipPath), want) ? zipPath : undefined;
  if (!record) return { previous, current: undefined, reason: "no earlier build with these settings" };
  const reason = await staleReason(record, root);
  if (reason || !previous)
    return {
      previous,
      current: undefined,
      reason: reason ?? "the zip was changed",
      ...(previous ? { record } : {}),
    };
  const { digest, bytes, unpackedBytes, distributions, warnings } = record;
  const ms = Math.round(performance.now() - started);
  return {
    previous,
    current: {
      ...report,
      path: zipPath,
      digest,
      bytes,
      unpackedBytes,
      distributions,
      cached: true,
      ms,
      ...(warnings?.length ? { warnings } : {}),
    },
  };
}
