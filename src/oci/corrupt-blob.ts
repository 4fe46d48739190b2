// Its own module: the build loop checks for it without loading the tar writer.
import { TugError } from "../errors.ts";
import type { Digest } from "./digest.ts";

/** A stored blob whose bytes do not match its digest; callers drop the cache entry and rebuild. */
export class CorruptBlobError extends TugError {
  readonly digest: Digest;
  readonly path: string;

  constructor(fields: { digest: Digest; path: string; detail: string }) {
    super({
      what: `cache blob ${fields.digest} is corrupt (${fields.detail})`,
      where: fields.path,
      hint: "tug drops the entry and rebuilds it; if this repeats, check the disk",
    });
    this.digest = fields.digest;
    this.path = fields.path;
  }
}

export function isCorruptBlob(e: unknown): e is CorruptBlobError {
  return e instanceof CorruptBlobError;
}
