import { type KeyObject, sign, verify } from "node:crypto";
import { Readable } from "node:stream";
import { type Digest, sha256 } from "../oci/digest.ts";
import type { Descriptor, Image, ImageConfig, Manifest } from "../oci/types.ts";
import { MediaType } from "../oci/types.ts";
import { SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE } from "./simple-signing.ts";

// The manifest cosign stores at `sha256-<hex>.sig` (specs/SIGNATURE_SPEC.md, "OCI Image Manifest
// V1"): one layer per signature, the payload as its blob, the base64 DER signature as the layer's
// annotation. Signing again with another key adds a layer; the config lists the layers as diff_ids
// (cosign's go-containerregistry image does the same), so readers that check configs accept it.

/** ECDSA P-256 over sha256(payload), ASN.1 DER, base64: what cosign writes in the annotation. */
export function signPayload(key: KeyObject, payload: Buffer): string {
  return sign("sha256", payload, key).toString("base64");
}

/** Whether `signature` (base64 DER) is `key`'s signature over exactly `payload`. */
export function verifyPayload(key: KeyObject, payload: Buffer, signature: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature) || signature.length > 512) return false;
  try {
    return verify("sha256", payload, key, Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}

/** A signature layer's descriptor: the payload blob with its signature annotation. */
export function signatureLayer(payload: Buffer, signature: string): Descriptor {
  return {
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    digest: sha256(payload),
    size: payload.length,
    annotations: { [SIGNATURE_ANNOTATION]: signature },
  };
}

/**
 * The signature manifest holding `layers` as an Image the registry push takes. `blobs` are the
 * payloads this run has; a layer kept from the manifest already in the registry is there already
 * (the push HEADs every blob and reads only the missing ones).
 */
export function signatureImage(layers: readonly Descriptor[], blobs: ReadonlyMap<Digest, Buffer>): Image {
  const config = Buffer.from(
    JSON.stringify({
      architecture: "",
      created: "0001-01-01T00:00:00Z",
      history: layers.map(() => ({ created: "0001-01-01T00:00:00Z" })),
      os: "",
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: sha256(config), size: config.length },
    layers: [...layers],
  };
  const raw = Buffer.from(JSON.stringify(manifest));
  return {
    rawManifest: async () => raw,
    manifest: async () => manifest,
    digest: async () => sha256(raw),
    mediaType: () => manifest.mediaType,
    rawConfig: async () => config,
    // Nothing reads a signature's config as an image config; this only satisfies the type.
    config: async () => ({}) as ImageConfig,
    layers: async () =>
      layers.map((l) => ({
        digest: async () => l.digest,
        diffId: async () => l.digest,
        size: async () => l.size,
        mediaType: () => l.mediaType,
        compressed: async () => {
          const blob = blobs.get(l.digest);
          if (!blob) throw new Error(`signature payload ${l.digest} is not in the registry any more`);
          return Readable.from([blob]);
        },
      })),
  };
}
