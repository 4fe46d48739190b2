import { basename } from "node:path";
import type { CacheStore } from "../engine/cache-store.ts";
import { metadataHeaders } from "../python/index-page.ts";
import { normalizeName } from "../python/name.ts";
import { pythonLicense } from "../sbom/licenses.ts";
import { sbomDocument } from "../sbom/sbom-document.ts";
import type { SbomFormat, SbomPackage } from "../sbom/sbom-model.ts";
import { type ZipProvenance, zipProvenanceStatement } from "../sbom/zip-provenance.ts";
import { ZipReader } from "../zip/zip-reader.ts";

// The documents written beside a zip: its SBOM (`NAME.zip.spdx.json` / `.cdx.json`) and, with
// --provenance, its SLSA statement (`NAME.zip.intoto.json`), both made from the zip just written.

/** Bump when what a zip's SBOM or provenance says changes: zips are then written again. */
export const ATTESTATION_VERSION = 2;

const MAX_METADATA_BYTES = 4 << 20;
/** `NAME.dist-info/METADATA` at the zip root (lambdas) or under `python/` (layers). */
const METADATA_RE = /^(?:python\/)?[^/]+\.dist-info\/METADATA$/;

export interface ZipAttestationInput {
  zipPath: string;
  reportKind: "lambda" | "layer";
  sbom: SbomFormat;
  /** The zip's packages when the plan knows them (Node); Python's come from `distributions`. */
  sbomPackages?: SbomPackage[];
  distributions: ReadonlyArray<{ name: string; version: string; wheel: string; sha256?: string }>;
  provenance?: ZipProvenance;
}

/**
 * The licenses of the zip's wheels, from the METADATA each installed (read from the written zip,
 * so reused wheel parts count too); remembered per wheel sha256, so a no-op or an edit reads none.
 */
async function wheelLicenses(
  zip: string,
  dists: ZipAttestationInput["distributions"],
  store: CacheStore | undefined,
): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  const missing: (typeof dists)[number][] = [];
  // Read all at once: after an edit every one is known, and these reads are all the SBOM costs.
  const known = await Promise.all(
    dists.map((d) =>
      d.sha256 ? store?.getRecord<{ license: string }>("wheel-license", d.sha256) : undefined,
    ),
  );
  for (const [i, d] of dists.entries()) {
    const license = known[i]?.license;
    if (typeof license === "string") out.set(d.name, license || undefined);
    else missing.push(d);
  }
  if (missing.length === 0) return out;
  const wanted = new Map(missing.map((d) => [normalizeName(d.name), d]));
  const reader = await ZipReader.open(zip);
  try {
    for (const e of reader.entries) {
      if (e.dir || !METADATA_RE.test(e.name) || e.uncompressedSize > MAX_METADATA_BYTES) continue;
      const text = (await reader.read(e)).toString("utf8");
      const name = metadataHeaders(text).get("name")?.[0];
      const d = name ? wanted.get(normalizeName(name)) : undefined;
      if (!d) continue;
      wanted.delete(normalizeName(d.name));
      const license = pythonLicense(text);
      out.set(d.name, license);
      if (d.sha256) await store?.putRecord("wheel-license", d.sha256, { license: license ?? "" });
    }
  } finally {
    await reader.close();
  }
  return out;
}

/** The SBOM rows of a zip: the plan's own, or one per wheel with its license. */
async function zipPackages(
  input: ZipAttestationInput,
  zip: string,
  store: CacheStore | undefined,
): Promise<SbomPackage[]> {
  if (input.sbomPackages) return input.sbomPackages;
  const licenses = await wheelLicenses(zip, input.distributions, store);
  return input.distributions.map((d) => {
    const license = licenses.get(d.name);
    return {
      ecosystem: "pypi",
      name: d.name,
      version: d.version,
      fileName: d.wheel,
      ...(d.sha256 ? { sha256: d.sha256 } : {}),
      ...(license ? { license } : {}),
    };
  });
}

/** The texts to write beside the zip at `written` (its temp path) whose sha256 is `sha256`. */
export async function zipAttestations(
  input: ZipAttestationInput,
  written: string,
  sha256: string,
  store: CacheStore | undefined,
): Promise<{ sbom?: string; provenance?: string }> {
  if (input.sbom === "none" && !input.provenance) return {};
  const packages = await zipPackages(input, written, store);
  const zipName = basename(input.zipPath);
  const doc = sbomDocument(input.sbom, { name: zipName, sha256, kind: "zip" }, packages);
  const provenance = input.provenance
    ? await zipProvenanceStatement({
        provenance: input.provenance,
        zipName,
        sha256,
        kind: input.reportKind,
        packages,
      })
    : undefined;
  return { ...(doc ? { sbom: doc.text } : {}), ...(provenance ? { provenance } : {}) };
}
