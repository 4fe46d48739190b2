import { Readable } from "node:stream";

/**
 * `source` re-read chunk by chunk, telling `onBytes` how many bytes each chunk held. Errors
 * flow through; destroying the result destroys the source (the async iterator's return()).
 */
export function countingStream(source: Readable, onBytes: (bytes: number) => void): Readable {
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      const b = chunk as Buffer;
      onBytes(b.length);
      yield b;
    }
  }
  return Readable.from(counted(), { objectMode: false });
}
