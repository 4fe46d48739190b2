import { countingStream } from "../util/counting-stream.ts";
import type { Artifact, Image, ImageIndex, Layer } from "./types.ts";
import { isIndex } from "./types.ts";

/** Opens a meter for one blob of `size` bytes; undefined when no one counts. */
export type MeterFor = (size: number) => ((bytes: number) => void) | undefined;

/**
 * The same artifact whose layer streams report the bytes read through `meter`: a push counts
 * exactly the blobs it uploads, a pull the blobs it downloads (a layer never opened costs nothing).
 */
export function meteredArtifact(artifact: Artifact, meter: MeterFor): Artifact {
  return isIndex(artifact) ? meteredIndex(artifact, meter) : meteredImage(artifact, meter);
}

function meteredIndex(index: ImageIndex, meter: MeterFor): ImageIndex {
  return {
    rawManifest: () => index.rawManifest(),
    manifest: () => index.manifest(),
    digest: () => index.digest(),
    mediaType: () => index.mediaType(),
    images: async () =>
      (await index.images()).map(({ descriptor, image }) => ({
        descriptor,
        image: meteredImage(image, meter),
      })),
  };
}

export function meteredImage(image: Image, meter: MeterFor): Image {
  let layers: Promise<Layer[]> | undefined;
  return {
    rawManifest: () => image.rawManifest(),
    manifest: () => image.manifest(),
    digest: () => image.digest(),
    mediaType: () => image.mediaType(),
    rawConfig: () => image.rawConfig(),
    config: () => image.config(),
    layers: () => {
      layers ??= image.layers().then((ls) => ls.map((l) => meteredLayer(l, meter)));
      return layers;
    },
  };
}

function meteredLayer(layer: Layer, meter: MeterFor): Layer {
  return {
    digest: () => layer.digest(),
    diffId: () => layer.diffId(),
    size: () => layer.size(),
    mediaType: () => layer.mediaType(),
    compressed: async () => {
      const stream = await layer.compressed();
      const count = meter(await layer.size());
      return count ? countingStream(stream, count) : stream;
    },
  };
}
