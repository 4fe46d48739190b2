import type { Readable } from "node:stream";
import { TugError } from "../../errors.ts";
import { VerifyingStream } from "../../util/verify-stream.ts";
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
  const out = new VerifyingStream({
    digest: opts.digest,
    size: opts.size,
    error: (m) =>
      digestMismatch(
        opts.what,
        opts.digest,
        m.kind === "digest"
          ? m.actual
          : m.kind === "oversize"
            ? `more than ${opts.size} bytes`
            : `${m.actual} of ${opts.size} bytes`,
        opts.where,
      ),
  });
  source.on("error", (e) => out.destroy(opts.mapError ? opts.mapError(e) : e));
  out.on("close", () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}
