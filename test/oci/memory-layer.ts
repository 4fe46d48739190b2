// Test-only layers built in memory, so these tests do not depend on src/oci/layer.ts.
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { type Digest, sha256 } from "../../src/oci/digest.ts";
import { type Layer, MediaType } from "../../src/oci/types.ts";

/** A deterministic tar of regular files (mode 0644, mtime 0), in the order given. */
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

export interface MemoryLayer extends Layer {
  readonly gz: Buffer;
  /** How many times compressed() was opened. */
  opened: number;
}

/** A gzip layer over an uncompressed tar held in memory. */
export function layerFromTar(tarBytes: Buffer): MemoryLayer {
  const gz = gzipSync(tarBytes);
  const digest: Digest = sha256(gz);
  const diffId: Digest = sha256(tarBytes);
  const layer: MemoryLayer = {
    gz,
    opened: 0,
    digest: async () => digest,
    diffId: async () => diffId,
    size: async () => gz.length,
    mediaType: () => MediaType.ociLayerGzip,
    compressed: async () => {
      layer.opened++;
      return Readable.from([gz]);
    },
  };
  return layer;
}

export async function layerOf(files: Record<string, string | Buffer>): Promise<MemoryLayer> {
  return layerFromTar(await tarOf(files));
}

/** Same identity as `layer`, but opening its bytes fails: proves a sink did not read them. */
export function unreadable(layer: Layer): Layer {
  return {
    digest: () => layer.digest(),
    diffId: () => layer.diffId(),
    size: () => layer.size(),
    mediaType: () => layer.mediaType(),
    compressed: async () => {
      throw new Error("compressed() must not be called");
    },
  };
}
