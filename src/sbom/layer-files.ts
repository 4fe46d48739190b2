import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import type { Layer } from "../oci/types.ts";

/**
 * The regular files of a layer that `want` picks (by path without the leading `./` or `/`, and
 * size), read as the tar streams past: nothing is extracted. Only tar and tar+gzip layers are
 * read; another compression (zstd) yields nothing.
 */
export async function layerFiles(
  layer: Layer,
  want: (name: string, size: number) => boolean,
): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const mediaType = layer.mediaType();
  if (!mediaType.endsWith("tar") && !mediaType.endsWith("gzip")) return out;
  const extract = tar.extract();
  extract.on("entry", (header, stream, next) => {
    const name = header.name.replace(/^\.?\/+/, "");
    if (header.type !== "file" || !want(name, header.size ?? 0)) {
      stream.on("end", () => next());
      stream.resume();
      return;
    }
    const chunks: Buffer[] = [];
    stream.on("data", (c: unknown) => chunks.push(c as Buffer));
    stream.on("end", () => {
      out.set(name, Buffer.concat(chunks));
      next();
    });
  });
  const source = await layer.compressed();
  await (mediaType.endsWith("gzip") ? pipeline(source, createGunzip(), extract) : pipeline(source, extract));
  return out;
}
