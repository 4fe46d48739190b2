import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { tempPathFor } from "./dead-temps.ts";
import { ioError } from "./io-error.ts";

/**
 * Pipes `source` (through `through`) into a new file at `path`. On failure the file is removed
 * only after its stream has closed: removing it earlier races the stream's own asynchronous
 * open, which would then create the file again after the removal (a stray temp file).
 * A file that was never opened by us (e.g. `wx` finding it already there) is left alone.
 * A full disk or failing device becomes one error naming the file and `writing` (what it is).
 */
export async function pipeToFile(
  source: Readable,
  through: Transform[],
  path: string,
  opts: { flags?: string; mode?: number; highWaterMark?: number; writing?: string } = {},
): Promise<void> {
  const { writing = "a file", ...streamOpts } = opts;
  const out = createWriteStream(path, streamOpts);
  let opened = false;
  out.once("open", () => {
    opened = true;
  });
  try {
    await pipeline([source, ...through, out]);
  } catch (e) {
    if (!out.closed) await new Promise<void>((r) => out.once("close", () => r()));
    if (opened) await rm(path, { force: true });
    throw ioError(e, { path, writing });
  }
}

/** Write to a sibling temp file, then rename: readers see the old file or the new one. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: { writing?: string } = {},
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw ioError(e, { path, writing: opts.writing ?? "a record into tug's cache" });
  }
}
