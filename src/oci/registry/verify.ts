import { createHash } from "node:crypto";
import { type Readable, Transform } from "node:stream";
import { TugError } from "../../errors.ts";
import { type Digest, sha256 } from "../digest.ts";

/** Content fetched by digest must hash to that digest: a registry or proxy may lie or truncate. */
export function digestMismatch(what: string, expected: Digest, actual: string, where: string): TugError {
  return new TugError({
    what: `${what} does not match its digest: expected ${expected}, got ${actual}`,
    where,
    hint: "the registry (or a proxy in between) served corrupt or different content; try again, and report it if it persists",
  });
}

export function verifyBuffer(buf: Buffer, expected: Digest, what: string, where: string): void {
  const actual = sha256(buf);
  if (actual !== expected) throw digestMismatch(what, expected, actual, where);
}

/**
 * Passes bytes through while hashing them; the stream errors at its end (before signalling
 * completion) when digest or size differ, so a consumer never sees a clean end of bad content.
 */
export function verifyingStream(
  source: Readable,
  opts: { digest: Digest; size?: number; what: string; where: string; mapError?: (e: unknown) => Error },
): Readable {
  const hash = createHash("sha256");
  let size = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      if (opts.size !== undefined && size > opts.size) {
        cb(digestMismatch(opts.what, opts.digest, `more than ${opts.size} bytes`, opts.where));
        return;
      }
      cb(null, chunk);
    },
    flush(cb) {
      const actual = `sha256:${hash.digest("hex")}`;
      if (actual !== opts.digest) cb(digestMismatch(opts.what, opts.digest, actual, opts.where));
      else if (opts.size !== undefined && size !== opts.size) {
        cb(digestMismatch(opts.what, opts.digest, `${size} of ${opts.size} bytes`, opts.where));
      } else cb();
    },
  });
  source.on("error", (e) => out.destroy(opts.mapError ? opts.mapError(e) : e));
  out.on("close", () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}
