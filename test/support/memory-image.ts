// In-memory Image / ImageIndex / Layer values built from buffers, independent of src/oci's layer code.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { type Digest, sha256 } from "../../src/oci/digest.ts";
import {
  type Descriptor,
  type Image,
  type ImageConfig,
  type ImageIndex,
  type Layer,
  MediaType,
  type Platform,
} from "../../src/oci/types.ts";

export interface MemoryLayer extends Layer {
  readonly gz: Buffer;
  /** How many times compressed() was opened: proves a push did not read a blob it skipped. */
  opened: number;
}

/** Deterministic bytes that gzip cannot shrink (sha256 in counter mode), for large-blob tests. */
export function noise(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  for (let off = 0, i = 0; off < size; i++) {
    off += createHash("sha256").update(`${seed}:${i}`).digest().copy(out, off);
  }
  return out;
}

/** A deterministic tar of regular files (mode 0644, mtime 0). */
export async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) {
    pack.entry({ name, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 }, Buffer.from(content));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function layerFromTar(tarBytes: Buffer, mediaType: string = MediaType.ociLayerGzip): MemoryLayer {
  const gz = gzipSync(tarBytes);
  const digest = sha256(gz);
  const diffId = sha256(tarBytes);
  const layer: MemoryLayer = {
    gz,
    opened: 0,
    digest: async () => digest,
    diffId: async () => diffId,
    size: async () => gz.length,
    mediaType: () => mediaType,
    compressed: async () => {
      layer.opened++;
      // Several chunks, so uploads really stream.
      const chunks: Buffer[] = [];
      for (let i = 0; i < gz.length; i += 256 * 1024) chunks.push(gz.subarray(i, i + 256 * 1024));
      return Readable.from(chunks);
    },
  };
  return layer;
}

export async function layerOf(files: Record<string, string | Buffer>): Promise<MemoryLayer> {
  return layerFromTar(await tarOf(files));
}

export interface MemoryImage extends Image {
  readonly memoryLayers: MemoryLayer[];
}

export interface MemoryImageOptions {
  platform?: Platform;
  /** Docker schema 2 media types instead of OCI. */
  docker?: boolean;
  env?: string[];
}

export async function memoryImage(
  layers: MemoryLayer[],
  opts: MemoryImageOptions = {},
): Promise<MemoryImage> {
  const platform = opts.platform ?? { os: "linux", architecture: "amd64" };
  const config: ImageConfig = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: opts.env ?? ["PATH=/usr/bin:/bin"], Cmd: ["/bin/true"] },
    rootfs: { type: "layers", diff_ids: await Promise.all(layers.map((l) => l.diffId())) },
  };
  const rawConfig = Buffer.from(JSON.stringify(config));
  const mediaType = opts.docker ? MediaType.dockerManifest : MediaType.ociManifest;
  const layerDescriptors: Descriptor[] = [];
  for (const l of layers) {
    const lt = opts.docker ? MediaType.dockerLayerGzip : l.mediaType();
    layerDescriptors.push({ mediaType: lt, digest: await l.digest(), size: await l.size() });
  }
  const manifest = {
    schemaVersion: 2 as const,
    mediaType,
    config: {
      mediaType: opts.docker ? MediaType.dockerConfig : MediaType.ociConfig,
      digest: sha256(rawConfig),
      size: rawConfig.length,
    },
    layers: layerDescriptors,
  };
  const raw = Buffer.from(JSON.stringify(manifest));
  return {
    memoryLayers: layers,
    rawManifest: async () => raw,
    manifest: async () => manifest,
    digest: async () => sha256(raw),
    mediaType: () => mediaType,
    rawConfig: async () => rawConfig,
    config: async () => config,
    layers: async () => layers,
  };
}

export async function memoryIndex(images: Array<{ image: Image; platform: Platform }>): Promise<ImageIndex> {
  const entries = await Promise.all(
    images.map(async ({ image, platform }) => {
      const raw = await image.rawManifest();
      const descriptor: Descriptor = {
        mediaType: image.mediaType(),
        digest: await image.digest(),
        size: raw.length,
        platform,
      };
      return { descriptor, image };
    }),
  );
  const manifest = {
    schemaVersion: 2 as const,
    mediaType: MediaType.ociIndex,
    manifests: entries.map((e) => e.descriptor),
  };
  const raw = Buffer.from(JSON.stringify(manifest));
  const digest: Digest = sha256(raw);
  return {
    rawManifest: async () => raw,
    manifest: async () => manifest,
    digest: async () => digest,
    mediaType: () => MediaType.ociIndex,
    images: async () => entries,
  };
}
