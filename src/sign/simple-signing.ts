import { TugError } from "../errors.ts";
import { type Digest, hexOf, isDigest } from "../oci/digest.ts";

// cosign's payload: the "simple signing" JSON of containers/image (docs/containers-signature.5.md)
// with critical.type "cosign container image signature" (cosign specs/SIGNATURE_SPEC.md). The bytes
// are what cosign's Go encoder writes for sigstore's payload.SimpleContainerImage: fields in struct
// order, no spaces, `optional: null` when there are no annotations. The signature covers exactly
// these bytes, so verifiers parse them, never re-serialise.

export const SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json";
export const SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
export const COSIGN_SIGNATURE_TYPE = "cosign container image signature";

/** The payload signing `digest` of an image in `repository` (`registry/path`, no tag). */
export function simpleSigningPayload(repository: string, digest: Digest): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { "docker-reference": repository },
        image: { "docker-manifest-digest": digest },
        type: COSIGN_SIGNATURE_TYPE,
      },
      optional: null,
    }),
  );
}

export interface SimpleSigningClaims {
  dockerReference: string;
  digest: Digest;
}

/** The claims of a payload, or a TugError when it is not a cosign simple-signing document. */
export function parseSimpleSigning(payload: Buffer, where: string): SimpleSigningClaims {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString("utf8"));
  } catch {
    throw new TugError({ what: "the signature payload is not JSON", where });
  }
  const critical = (doc as { critical?: unknown })?.critical as
    | {
        identity?: { "docker-reference"?: unknown };
        image?: { "docker-manifest-digest"?: unknown };
        type?: unknown;
      }
    | undefined;
  const digest = critical?.image?.["docker-manifest-digest"];
  const ref = critical?.identity?.["docker-reference"];
  if (critical?.type !== COSIGN_SIGNATURE_TYPE || typeof digest !== "string" || !isDigest(digest)) {
    throw new TugError({
      what: "the signature payload is not a cosign container image signature",
      where,
      hint: `expected critical.type "${COSIGN_SIGNATURE_TYPE}" and critical.image.docker-manifest-digest`,
    });
  }
  return { dockerReference: typeof ref === "string" ? ref : "", digest };
}

/** cosign's tag-based discovery: `sha256-<hex>.sig` in the image's repository. */
export function signatureTag(digest: Digest): string {
  return `sha256-${hexOf(digest)}.sig`;
}
