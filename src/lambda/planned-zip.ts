import type { Hash } from "node:crypto";
import { rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { CacheStore } from "../engine/cache-store.ts";
import { type SbomFormat, type SbomPackage, sbomSuffix } from "../sbom/sbom-model.ts";
import { ZIP_PROVENANCE_SUFFIX, type ZipProvenance } from "../sbom/zip-provenance.ts";
import { sweepDeadTemps, tempPathFor } from "../util/dead-temps.ts";
import { makeDirectory, writingTo } from "../util/io-error.ts";
import { allSettledOrThrow } from "../util/settle.ts";
import type { ZipEntry } from "../zip/entry.ts";
import type { KeptHead } from "../zip/zip-head.ts";
import { createZip } from "../zip/zip-writer.ts";
import { type FileStamp, type OutputRecord, sameStamp, stampOf } from "./output-record.ts";
import { zipAttestations } from "./zip-attestations.ts";

export { type PreviousOutput, previousOutput } from "./output-record.ts";

import type { WheelFile } from "../python/wheel-table.ts";
import { type ThirdPartyNote, thirdPartyCount } from "./third-party-memo.ts";

export interface LambdaDistribution {
  name: string;
  version: string;
  wheel: string;
  /** Hex sha256 of the wheel file (Python); what the SBOM lists. */
  sha256?: string;
}

/** A Python distribution as a zip holds it: its wheel's sha256 is known. */
export type WheelDistribution = LambdaDistribution & { sha256: string };

export interface LambdaReport {
  target: string;
  kind: "lambda" | "layer";
  path: string;
  digest: string;
  bytes: number;
  unpackedBytes: number;
  distributions: LambdaDistribution[];
  cached: boolean;
  ms: number;
  /** Things worth a look that did not stop the build (e.g. an import nothing provides). */
  warnings?: string[];
  /** Why it was built rather than current: "lambdas/plot.py changed", "no earlier build …". */
  reason?: string;
}

/**
 * What a resident process (tug dev) keeps between builds: the sha256 state at the start of each
 * zip's own sources, so the next edit neither reads nor hashes the unchanged head again.
 */
export interface ZipMemo {
  heads: Map<string, { bytes: number; hash: Hash; stamp: FileStamp | undefined }>;
}

/**
 * Python zips: first-party sources (entries with their bytes in memory) go last, so after an
 * edit to them the wheels' part of the previous zip is copied as one block and only the tail is
 * written.
 */
export const PYTHON_ZIP_GROUP = (e: ZipEntry): number => ("data" in e ? 1 : 0);

/** A zip ready to write (every input checked and resolved), or one that is already current. */
export type PlannedZip =
  | { kind: "current"; report: LambdaReport }
  | {
      kind: "write";
      name: string;
      reportKind: LambdaReport["kind"];
      zipPath: string;
      /** The output record's key. */
      key: string;
      entries: ZipEntry[];
      /** Python: wheels with their sha256; Node: npm packages (`ecosystem: "npm"`). */
      distributions: LambdaDistribution[];
      ecosystem?: "npm";
      /**
       * Entry order groups (zip-writer.ts); Python puts first-party sources last so an edit
       * rewrites only the tail. Default: one group, entries by name.
       */
      group?: (entry: ZipEntry) => number;
      /** `--sbom`: the document written beside the zip, from the same distributions. */
      sbom: SbomFormat;
      /** The SBOM's rows when the plan knows them (Node: bundled and installed npm packages). */
      sbomPackages?: SbomPackage[];
      /** `--provenance`: an SLSA statement written beside the zip as `NAME.zip.intoto.json`. */
      provenance?: ZipProvenance;
      /** What `NAME.zip.json` says before the digest and distributions. */
      meta: Record<string, unknown>;
      /** What it says after them (Node: `environment`). */
      metaAfter?: Record<string, unknown>;
      inputs: Pick<OutputRecord, "files" | "probes" | "dirs">;
      /** Why it is built rather than current ("lambdas/plot.py changed"). */
      reason?: string;
      /** False when something could not be checked: the zip is written but not recorded as current. */
      recordable?: boolean;
      /** What the wheel part was built from, recorded so that a first-party edit can reuse it. */
      thirdParty?: Omit<ThirdPartyNote, "entries">;
      /** The zip this build replaces, when it is still the one the last build wrote. */
      previous: string | undefined;
      wheels: WheelFile[];
      /** The leading entries kept from the previous zip as one block; `entries` follow them. */
      head?: KeptHead;
      /** Releases anything else the plan holds (a staging directory), written or not. */
      cleanup?: () => Promise<void>;
      warnings: string[];
      started: number;
    };

/** Releases what a plan holds open (the wheels' descriptors) when it will not be written. */
export async function discardPlanned(planned: PlannedZip): Promise<void> {
  if (planned.kind !== "write") return;
  await Promise.all(planned.wheels.map((w) => w.close()));
  await planned.cleanup?.();
}

/**
 * Writes `NAME.zip` (deterministic bytes, by rename) and `NAME.zip.json` next to it, then records
 * the inputs and the outputs' stamps so that the next build with nothing changed does nothing.
 */
export async function writePlanned(
  planned: PlannedZip,
  store: CacheStore | undefined,
  memo?: ZipMemo,
): Promise<LambdaReport> {
  if (planned.kind === "current") return planned.report;
  const { zipPath, entries, distributions, started } = planned;
  const metaPath = `${zipPath}.json`;
  await makeDirectory(dirname(zipPath), "the output directory");
  await sweepDeadTemps(dirname(zipPath));
  // Unique per writer: two builds of one project at once must not rename each other's files.
  const tmp = tempPathFor(zipPath);
  const metaTmp = tempPathFor(metaPath);
  const sbomFormat = planned.sbom;
  const sbomPath = sbomFormat === "none" ? undefined : `${zipPath}${sbomSuffix(sbomFormat)}`;
  const sbomTmp = sbomPath ? tempPathFor(sbomPath) : undefined;
  const provenancePath = planned.provenance ? `${zipPath}${ZIP_PROVENANCE_SUFFIX}` : undefined;
  const provenanceTmp = provenancePath ? tempPathFor(provenancePath) : undefined;
  let result: Awaited<ReturnType<typeof createZip>>;
  let digest: string;
  try {
    const kept = memo?.heads.get(zipPath);
    const reuseHash =
      planned.previous && kept && sameStamp(kept.stamp, await stampOf(planned.previous)) ? kept : undefined;
    let boundary: { bytes: number; hash: Hash } | undefined;
    result = await createZip(entries, tmp, {
      lookahead: 32,
      ...(planned.group ? { group: planned.group } : {}),
      ...(planned.head ? { head: planned.head } : planned.previous ? { reuse: planned.previous } : {}),
      ...(reuseHash ? { reuseHash } : {}),
      ...(memo
        ? {
            onGroupBoundary: (at: { bytes: number; hash: Hash }) => {
              boundary = at;
            },
          }
        : {}),
    });
    memo?.heads.delete(zipPath);
    if (memo && boundary) memo.heads.set(zipPath, { ...boundary, stamp: undefined });
    digest = `sha256:${result.sha256}`;
    const docs = await zipAttestations(planned, tmp, result.sha256, store);
    const meta = {
      ...planned.meta,
      digest,
      distributions,
      ...(sbomPath ? { sbom: basename(sbomPath) } : {}),
      ...(provenancePath ? { provenance: basename(provenancePath) } : {}),
      ...planned.metaAfter,
    };
    await writingTo({ path: metaPath, writing: "the lambda zip's description" }, async () => {
      // A document in another format, or a statement this build does not make, would describe
      // an older zip: it goes. The temp files and removals are independent: all at once.
      const stale = [
        ...otherSbomPaths(zipPath, sbomFormat),
        ...(provenancePath ? [] : [`${zipPath}${ZIP_PROVENANCE_SUFFIX}`]),
      ];
      await allSettledOrThrow<unknown>([
        sbomTmp && docs.sbom !== undefined ? writeFile(sbomTmp, docs.sbom) : Promise.resolve(),
        provenanceTmp && docs.provenance !== undefined
          ? writeFile(provenanceTmp, docs.provenance)
          : Promise.resolve(),
        writeFile(metaTmp, `${JSON.stringify(meta, null, 2)}\n`),
        ...stale.map((p) => rm(p, { force: true })),
      ]);
      await rename(tmp, zipPath);
      if (sbomTmp && sbomPath) await rename(sbomTmp, sbomPath);
      if (provenanceTmp && provenancePath) await rename(provenanceTmp, provenancePath);
      await rename(metaTmp, metaPath);
    });
  } catch (e) {
    await Promise.all([
      rm(tmp, { force: true }),
      rm(metaTmp, { force: true }),
      ...(sbomTmp ? [rm(sbomTmp, { force: true })] : []),
      ...(provenanceTmp ? [rm(provenanceTmp, { force: true })] : []),
    ]);
    // ZipOutput names the zip on a failed write; a failed read (a source, a wheel) stays as it is.
    throw e;
  } finally {
    await Promise.all(planned.wheels.map((w) => w.close()));
    await planned.cleanup?.();
  }
  const report: LambdaReport = {
    target: planned.name,
    kind: planned.reportKind,
    path: zipPath,
    digest,
    bytes: result.bytes,
    unpackedBytes: result.unpackedBytes,
    distributions,
    cached: false,
    ms: Math.round(performance.now() - started),
    ...(planned.reason ? { reason: planned.reason } : {}),
    ...(planned.warnings.length ? { warnings: planned.warnings } : {}),
  };
  const [zipStamp, metaStamp, sbomStamp, provenanceStamp] = await Promise.all([
    stampOf(zipPath),
    stampOf(metaPath),
    sbomPath ? stampOf(sbomPath) : undefined,
    provenancePath ? stampOf(provenancePath) : undefined,
  ]);
  const head = memo?.heads.get(zipPath);
  if (head) head.stamp = zipStamp;
  const written = zipStamp && metaStamp && (!sbomPath || sbomStamp) && (!provenancePath || provenanceStamp);
  if (store && written && planned.recordable !== false) {
    const record: OutputRecord = {
      ...planned.inputs,
      outputs: {
        [zipPath]: zipStamp,
        [metaPath]: metaStamp,
        ...(sbomPath && sbomStamp ? { [sbomPath]: sbomStamp } : {}),
        ...(provenancePath && provenanceStamp ? { [provenancePath]: provenanceStamp } : {}),
      },
      digest,
      bytes: report.bytes,
      unpackedBytes: report.unpackedBytes,
      distributions,
      ...(planned.ecosystem ? { ecosystem: planned.ecosystem } : {}),
      ...(planned.warnings.length ? { warnings: planned.warnings } : {}),
      ...(planned.reason ? { builtBecause: planned.reason } : {}),
      ...(planned.thirdParty
        ? {
            thirdParty: {
              ...planned.thirdParty,
              entries: (planned.head?.entries ?? 0) + thirdPartyCount(planned.entries),
            },
          }
        : {}),
    };
    await writingTo({ path: store.root, writing: "the lambda's build record in tug's cache" }, () =>
      store.putRecord("lambda-out", planned.key, record),
    );
  }
  return report;
}

function otherSbomPaths(zipPath: string, format: SbomFormat): string[] {
  return (["spdx", "cyclonedx"] as const)
    .filter((f) => f !== format)
    .map((f) => `${zipPath}${sbomSuffix(f)}`);
}
