import { posix } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import { TugError } from "../errors.ts";
import { type Layer, MediaType } from "./types.ts";

const GZIP = new Set<string>([MediaType.ociLayerGzip, MediaType.dockerLayerGzip]);

/**
 * The contents of one regular file of a layer, streamed out of its tar (nothing extracted to
 * disk); undefined when the layer has no such file. A file larger than `maxBytes` is refused:
 * layers are outside input.
 */
export async function readLayerFile(
  layer: Layer,
  path: string,
  opts: { maxBytes: number; where: string },
): Promise<Buffer | undefined> {
  const wanted = posix.normalize(`/${path}`);
  let found: Buffer | undefined;
  const extract = tar.extract();
  extract.on("entry", (header, stream, next) => {
    const name = posix.normalize(`/${header.name}`).replace(/\/+$/, "");
    if (
      found === undefined &&
      name === wanted &&
      (header.type === "file" || header.type === "contiguous-file")
    ) {
      if ((header.size ?? 0) > opts.maxBytes) {
        extract.destroy(
          new TugError({
            what: `${wanted} in a layer of ${opts.where} is ${header.size} bytes, over the ${opts.maxBytes} tug reads`,
            hint: "use a base image with an ordinary system layout",
          }),
        );
        return;
      }
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => {
        chunks.push(c as Buffer);
      });
      stream.on("end", () => {
        found = Buffer.concat(chunks);
        next();
      });
      return;
    }
    stream.on("end", next);
    // A failing source destroys the entry too; the pipeline below reports that error once.
    stream.on("error", () => {});
    stream.resume();
  });
  const source = await layer.compressed();
  if (GZIP.has(layer.mediaType())) await pipeline(source, createGunzip(), extract);
  else await pipeline(source, extract);
  return found;
}
