import type { KeyObject } from "node:crypto";
import type { Readable } from "node:stream";
import { TugError } from "../errors.ts";
import { type Digest, hexOf, isDigest } from "../oci/digest.ts";
import { formatReference, manifestReference, type Reference } from "../oci/reference.ts";
import { parseManifestJson, type RegistryClient, type Repo } from "../oci/registry/client.ts";
import { RegistryError } from "../oci/registry/errors.ts";
import { type IndexManifest, type Manifest, MediaType } from "../oci/types.ts";
import { referrersTag } from "../sbom/referrer-manifest.ts";
import { attestedDigests } from "./attested-digests.ts";
import { verifyPayload } from "./signature-image.ts";
import {
  parseSimpleSigning,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  signatureTag,
} from "./simple-signing.ts";

// `tug verify`: what cosign verify --key checks for a key-signed image (a signature layer whose
// signature verifies over the payload's exact bytes, and whose payload names the image's digest),
// plus tug's own check that every SBOM/provenance referrer of the image describes that digest.

const MAX_PAYLOAD_BYTES = 64 * 1024;
const MAX_DOCUMENT_BYTES = 32 << 20;

export interface VerifiedReferrer {
  subject: Digest;
  digest: Digest;
  artifactType: string;
}

export interface VerifyReport {
  reference: string;
  digest: Digest;
  /** Signature layers that verified with the key (cosign accepts one). */
  signatures: number;
  referrers: VerifiedReferrer[];
}

async function readBounded(stream: Readable, max: number, what: string, where: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > max) {
      stream.destroy();
      throw new TugError({ what: `${what} is bigger than the ${max} bytes tug reads`, where });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

async function blobOf(
  client: RegistryClient,
  repo: Repo,
  d: { digest: Digest; size: number },
  max: number,
  what: string,
): Promise<Buffer> {
  const where = `${formatReference(repo)}@${d.digest}`;
  if (!Number.isSafeInteger(d.size) || d.size < 0 || d.size > max)
    throw new TugError({ what: `${what} claims ${d.size} bytes, more than the ${max} tug reads`, where });
  return readBounded(await client.blob(repo, d.digest, d.size), max, what, where);
}

const notFound = (e: unknown) => e instanceof RegistryError && e.status === 404;

/** Checks `ref`'s cosign signature with `key` and its referrers; a TugError says what failed. */
export async function verifyImage(opts: {
  ref: Reference;
  key: KeyObject;
  keyPath: string;
  client: RegistryClient;
}): Promise<VerifyReport> {
  const { ref, key, client } = opts;
  const repo = { registry: ref.registry, repository: ref.repository };
  const shown = formatReference(ref);
  const fetched = await client.manifest(repo, manifestReference(ref));
  const digest = fetched.digest;
  const sigTag = signatureTag(digest);
  const sig = await client.manifest(repo, sigTag).catch((e: unknown) => {
    if (notFound(e))
      throw new TugError({
        what: `${shown} has no signature (nothing at ${formatReference(repo)}:${sigTag})`,
        where: shown,
        hint: "sign it with `tug build --sign-key cosign.key` (or cosign sign --key)",
      });
    throw e;
  });
  const where = `${formatReference(repo)}:${sigTag}`;
  const manifest = parseManifestJson<Manifest>(sig.raw, where);
  const layers = Array.isArray(manifest.layers) ? manifest.layers : [];
  const problems: string[] = [];
  let signatures = 0;
  for (const layer of layers) {
    const signature = layer?.annotations?.[SIGNATURE_ANNOTATION];
    if (layer?.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE || typeof signature !== "string") continue;
    if (typeof layer.digest !== "string" || !isDigest(layer.digest)) continue;
    const payload = await blobOf(client, repo, layer, MAX_PAYLOAD_BYTES, "signature payload");
    if (!verifyPayload(key, payload, signature)) {
      problems.push(`layer ${layer.digest}: the signature does not verify with ${opts.keyPath}`);
      continue;
    }
    const claims = parseSimpleSigning(payload, where);
    if (claims.digest !== digest) {
      problems.push(`layer ${layer.digest}: the signed payload names ${claims.digest}, not ${digest}`);
      continue;
    }
    signatures++;
  }
  if (signatures === 0) {
    throw new TugError({
      what: `no signature of ${shown} (${digest}) verifies with ${opts.keyPath}`,
      where,
      hint:
        problems.length > 0 ? problems.join("; ") : "the signature manifest holds no simple-signing layer",
    });
  }
  // SBOMs and provenance attach per platform image: an index's children are their subjects.
  const subjects: Digest[] = [digest];
  if (fetched.mediaType === MediaType.ociIndex || fetched.mediaType === MediaType.dockerManifestList) {
    const index = parseManifestJson<IndexManifest>(fetched.raw, shown);
    for (const m of Array.isArray(index.manifests) ? index.manifests : [])
      if (typeof m?.digest === "string" && isDigest(m.digest)) subjects.push(m.digest);
  }
  const referrers: VerifiedReferrer[] = [];
  for (const subject of subjects) referrers.push(...(await checkReferrers(client, repo, subject)));
  return { reference: shown, digest, signatures, referrers };
}

async function checkReferrers(
  client: RegistryClient,
  repo: Repo,
  subject: Digest,
): Promise<VerifiedReferrer[]> {
  // The referrers API where the registry has one, else the referrers tag `sha256-<hex>` (also
  // when the API answers with an error: some registries refuse paths they do not know with 400).
  let index = await client.referrers(repo, subject).catch(() => undefined);
  if (!index) {
    const tag = referrersTag(subject);
    const fetched = await client.manifest(repo, tag).catch((e: unknown) => {
      if (notFound(e)) return undefined;
      throw e;
    });
    if (!fetched) return [];
    index = parseManifestJson<IndexManifest>(fetched.raw, `${formatReference(repo)}:${tag}`);
  }
  const out: VerifiedReferrer[] = [];
  for (const entry of Array.isArray(index.manifests) ? index.manifests : []) {
    if (typeof entry?.digest !== "string" || !isDigest(entry.digest)) continue;
    const at = `${formatReference(repo)}@${entry.digest}`;
    const m = parseManifestJson<Manifest & { subject?: { digest?: unknown }; artifactType?: unknown }>(
      (await client.manifest(repo, entry.digest)).raw,
      at,
    );
    if (m.subject?.digest !== subject) {
      throw new TugError({
        what: `referrer ${entry.digest} is listed for ${subject} but its subject is ${String(m.subject?.digest)}`,
        where: at,
      });
    }
    const artifactType = typeof m.artifactType === "string" ? m.artifactType : "";
    const layer = m.layers?.[0];
    if (layer && isDigest(String(layer.digest))) {
      const names = attestedDigests(artifactType, () =>
        blobOf(client, repo, layer, MAX_DOCUMENT_BYTES, "referrer document"),
      );
      const found = await names;
      if (found !== undefined && !found.includes(hexOf(subject))) {
        throw new TugError({
          what: `the ${artifactType} document of referrer ${entry.digest} describes ${found.join(", ") || "no digest"}, not ${subject}`,
          where: at,
          hint: "the SBOM or provenance attached to this image was made for another one",
        });
      }
    }
    out.push({ subject, digest: entry.digest, artifactType });
  }
  return out;
}
