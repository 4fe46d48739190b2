import { TugError } from "../errors.ts";
import { sourceDateEpoch } from "../oci/tar.ts";
import { TUG_VERSION } from "../version.ts";

/** `--sbom`: which document is written beside each artifact, if any. */
export type SbomFormat = "spdx" | "cyclonedx" | "none";

export const SBOM_FORMATS: readonly SbomFormat[] = ["spdx", "cyclonedx", "none"];

/** One component of an artifact: a wheel, a Go module, an npm package, a base image. */
export interface SbomPackage {
  /** What kind of thing it is; decides its id prefix and its package URL. */
  ecosystem: "pypi" | "golang" | "npm" | "oci" | "deb" | "apk";
  name: string;
  version: string;
  /** The file it came as (a wheel's file name). */
  fileName?: string;
  /** Hex sha256 of that file (or of the manifest, for an image). */
  sha256?: string;
  /** Other digests of that file (npm's lockfile `integrity`), hex. */
  checksums?: ReadonlyArray<{ algorithm: ChecksumAlgorithm; hex: string }>;
  /** An SPDX license expression when one was declared; absent means not known. */
  license?: string;
  /** OS packages: the distribution (purl namespace, e.g. `debian`, `alpine`) and architecture. */
  distro?: string;
  arch?: string;
}

/** SPDX 2.3's names for the digests npm's Subresource Integrity strings carry. */
export type ChecksumAlgorithm = "SHA1" | "SHA256" | "SHA384" | "SHA512";

/**
 * An SRI string (`sha512-<base64>`, several separated by spaces) as hex checksums; unknown
 * algorithms and malformed values are left out.
 */
export function integrityChecksums(sri: unknown): Array<{ algorithm: ChecksumAlgorithm; hex: string }> {
  if (typeof sri !== "string" || sri.length > 4096) return [];
  const lengths: Record<string, [ChecksumAlgorithm, number]> = {
    sha1: ["SHA1", 20],
    sha256: ["SHA256", 32],
    sha384: ["SHA384", 48],
    sha512: ["SHA512", 64],
  };
  const out: Array<{ algorithm: ChecksumAlgorithm; hex: string }> = [];
  for (const part of sri.trim().split(/\s+/)) {
    const m = /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})(\?.*)?$/.exec(part);
    const known = m ? lengths[m[1] as string] : undefined;
    if (!m || !known) continue;
    const bytes = Buffer.from(m[2] as string, "base64");
    if (bytes.length !== known[1]) continue;
    if (!out.some((c) => c.algorithm === known[0]))
      out.push({ algorithm: known[0], hex: bytes.toString("hex") });
  }
  return out;
}

/** The artifact an SBOM describes: its name and the sha256 of its bytes. */
export interface SbomSubject {
  name: string;
  sha256: string;
  /** "zip" for a lambda or layer zip, "image" for one platform's image manifest. */
  kind: "zip" | "image";
}

/** What every document needs besides its contents: when and by what (both fixed, for equal bytes). */
export interface SbomStamp {
  /** RFC 3339, seconds: SOURCE_DATE_EPOCH, else the epoch. */
  created: string;
  tool: string;
}

export function sbomStamp(env: NodeJS.ProcessEnv = process.env): SbomStamp {
  const created = new Date(sourceDateEpoch(env) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  return { created, tool: `tug-${TUG_VERSION}` };
}

export function parseSbomFormat(v: string | undefined, where: string): SbomFormat {
  if (v === undefined) return "spdx";
  if ((SBOM_FORMATS as readonly string[]).includes(v)) return v as SbomFormat;
  throw new TugError({
    what: `--sbom ${v} is not a format tug writes`,
    where,
    hint: `use one of ${SBOM_FORMATS.join(", ")} (spdx is SPDX 2.3 JSON, cyclonedx is CycloneDX 1.5 JSON)`,
  });
}

/** The file name suffix of each format's document: `NAME.zip.spdx.json`, `NAME.zip.cdx.json`. */
export function sbomSuffix(format: Exclude<SbomFormat, "none">): string {
  return format === "spdx" ? ".spdx.json" : ".cdx.json";
}

/** A package URL (purl spec); names are percent-encoded where the spec requires it. */
export function purlOf(p: SbomPackage): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%2F/g, "/");
  if (p.ecosystem === "oci") return ociPurl(p.name, p.sha256 ?? "");
  if (p.ecosystem === "deb" || p.ecosystem === "apk") {
    const ns = encodeURIComponent(p.distro ?? (p.ecosystem === "deb" ? "debian" : "alpine"));
    const arch = p.arch ? `?arch=${encodeURIComponent(p.arch)}` : "";
    return `pkg:${p.ecosystem}/${ns}/${enc(p.name)}@${encodeURIComponent(p.version)}${arch}`;
  }
  if (p.ecosystem === "npm" && p.name.startsWith("@")) {
    const [scope, name] = p.name.split("/");
    return `pkg:npm/${encodeURIComponent(scope ?? "")}/${enc(name ?? "")}@${encodeURIComponent(p.version)}`;
  }
  return `pkg:${p.ecosystem}/${enc(p.name)}@${encodeURIComponent(p.version)}`;
}

/** Packages in one stable order (ecosystem, name, version), whatever order they were found in. */
export function sortedPackages(packages: readonly SbomPackage[]): SbomPackage[] {
  const key = (p: SbomPackage) =>
    [p.ecosystem, p.name, p.version, p.fileName ?? "", p.sha256 ?? "", p.license ?? ""].join("\u0000");
  return [...packages].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** purl-spec's oci type: the last path segment as the name, the repository and tag as qualifiers. */
function ociPurl(ref: string, hex: string): string {
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  const [repository, tag] = colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, undefined];
  const name = repository.slice(repository.lastIndexOf("/") + 1).toLowerCase();
  const qualifiers = [
    `repository_url=${encodeURIComponent(repository)}`,
    ...(tag ? [`tag=${encodeURIComponent(tag)}`] : []),
  ];
  return `pkg:oci/${encodeURIComponent(name)}@sha256%3A${hex}?${qualifiers.join("&")}`;
}
