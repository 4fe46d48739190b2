import { type Digest, sha256 } from "../oci/digest.ts";
import type { Descriptor, IndexManifest, Manifest } from "../oci/types.ts";

// OCI 1.1 (image-spec v1.1.0 manifest.md, distribution-spec "referrers tag schema"): an SBOM is
// an artifact manifest whose `subject` is the image manifest it describes. A registry without
// the referrers API (Debian's docker-registry 2.8) finds it through the tag `sha256-<hex>` of
// the subject, an image index listing every referrer.

export const EMPTY_CONFIG = {
  mediaType: "application/vnd.oci.empty.v1+json",
  digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" as Digest,
  size: 2,
  data: "e30=",
} as const;

export interface ReferrerArtifact {
  manifest: Manifest & { artifactType: string; subject: Descriptor };
  /** The manifest's bytes, as pushed: its digest is sha256 of exactly these. */
  bytes: Buffer;
  digest: Digest;
  /** The SBOM document itself, the manifest's one layer: made again only when a sink needs it. */
  blob: () => Promise<Buffer>;
  blobDigest: Digest;
}

/** The artifact manifest that attaches `document` (of `mediaType`) to the manifest `subject`. */
export function referrerArtifact(subject: Descriptor, document: string, mediaType: string): ReferrerArtifact {
  const blob = Buffer.from(document);
  const blobDigest = sha256(blob);
  const manifest = {
    schemaVersion: 2 as const,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    artifactType: mediaType,
    config: { mediaType: EMPTY_CONFIG.mediaType, digest: EMPTY_CONFIG.digest, size: EMPTY_CONFIG.size },
    layers: [{ mediaType, digest: blobDigest, size: blob.length }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { manifest, bytes, digest: sha256(bytes), blob: async () => blob, blobDigest };
}

/** The fallback tag for the referrers of `subject`: `sha256-<hex>`. */
export function referrersTag(subject: Digest): string {
  return subject.replace(":", "-");
}

/**
 * The referrers index with `artifact` added to what the tag held (`current`, if anything): other
 * referrers stay, an entry for the same manifest is not repeated. Entries sorted by digest so
 * the same set gives the same bytes.
 */
export function referrersIndex(
  current: IndexManifest | undefined,
  artifact: ReferrerArtifact,
): IndexManifest {
  const entry: Descriptor & { artifactType: string } = {
    mediaType: artifact.manifest.mediaType,
    digest: artifact.digest,
    size: artifact.bytes.length,
    artifactType: artifact.manifest.artifactType,
  };
  const others = (current?.manifests ?? []).filter((m) => m.digest !== artifact.digest);
  const manifests = [...others, entry].sort((a, b) =>
    a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0,
  );
  return { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests };
}
