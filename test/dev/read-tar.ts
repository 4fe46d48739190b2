// Reads a tar stream back, for tests of what the dev runtimes stream into a target.
import type { Readable } from "node:stream";
import tar from "tar-stream";

export interface TarItem {
  name: string;
  type: string;
  mode: number;
  data: string;
}

/** Every entry of a tar stream, in order, with its content as text. */
export async function readTar(stream: Readable): Promise<TarItem[]> {
  const ex = tar.extract();
  const items: TarItem[] = [];
  ex.on("entry", (h, body, next) => {
    const chunks: Buffer[] = [];
    body.on("data", (c: unknown) => {
      chunks.push(c as Buffer);
    });
    body.on("end", () => {
      items.push({
        name: h.name,
        type: h.type ?? "file",
        mode: h.mode ?? 0,
        data: Buffer.concat(chunks).toString(),
      });
      next();
    });
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on("finish", () => resolve());
    ex.on("error", reject);
    stream.on("error", reject);
  });
  stream.pipe(ex);
  await done;
  return items;
}
