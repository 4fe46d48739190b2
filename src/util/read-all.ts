import type { Readable } from "node:stream";

/** Every byte of a stream, for bodies already bounded by their producer (a checked size, a cap). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
