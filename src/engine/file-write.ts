import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import type { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

/**
 * Pipes `source` (through `through`) into a new file at `path`. On failure the file is removed
 * only after its stream has closed: removing it earlier races the stream's own asynchronous
 * open, which would then create the file again after the removal (a stray temp file).
 * A file that was never opened by us (e.g. `wx` finding it already there) is left alone.
 */
export async function pipeToFile(
  source: Readable,
  through: Transform[],
  path: string,
  opts: { flags?: string; mode?: number; highWaterMark?: number } = {},
): Promise<void> {
  const out = createWriteStream(path, opts);
  let opened = false;
  out.once("open", () => {
    opened = true;
  });
  try {
    await pipeline([source, ...through, out]);
  } catch (e) {
    if (!out.closed) await new Promise<void>((r) => out.once("close", () => r()));
    if (opened) await rm(path, { force: true });
    throw e;
  }
}
