import { Readable } from "node:stream";
import type { Image, ImageConfig } from "../oci/types.ts";
import { EMPTY_CONFIG, type ReferrerArtifact } from "./referrer-manifest.ts";

/**
 * A referrer artifact as an Image, so the layout writer and the registry push take it like any
 * other manifest: its config is the empty descriptor's `{}`, its one layer the document.
 */
export function referrerImage(a: ReferrerArtifact): Image {
  const layer = {
    digest: async () => a.blobDigest,
    diffId: async () => a.blobDigest,
    size: async () => a.manifest.layers[0]?.size ?? 0,
    mediaType: () => a.manifest.layers[0]?.mediaType ?? "",
    compressed: async () => Readable.from([await a.blob()]),
  };
  return {
    rawManifest: async () => a.bytes,
    manifest: async () => a.manifest,
    digest: async () => a.digest,
    mediaType: () => a.manifest.mediaType,
    rawConfig: async () => Buffer.from(EMPTY_CONFIG.data, "base64"),
    // Nothing reads an artifact's config as an image config; this only satisfies the type.
    config: async () => ({}) as ImageConfig,
    layers: async () => [layer],
  };
}
