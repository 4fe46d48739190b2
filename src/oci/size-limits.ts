import { TugError } from "../errors.ts";

const MiB = 1024 * 1024;

/**
 * Bounds on JSON that tug reads whole into memory from a registry or a layout. 4 MiB is the
 * manifest size the distribution spec says a registry must at least accept; configs of real
 * images stay far below 8 MiB (history is the biggest part). A hostile source can claim, or send,
 * anything: these turn "out of memory after minutes" into one clear error.
 */
export const MAX_MANIFEST_BYTES = 4 * MiB;
export const MAX_CONFIG_BYTES = 8 * MiB;
export const MAX_TOKEN_BYTES = 1 * MiB;
/** Registry error bodies: only the first error's code and message are shown. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

export function tooLarge(what: string, limit: number, where: string, got?: number): TugError {
  const size = got === undefined ? `more than ${describeBytes(limit)}` : describeBytes(got);
  return new TugError({
    what: `${what} is too large: ${size}, tug accepts at most ${describeBytes(limit)}`,
    where,
    hint: "the source is broken or hostile; real manifests and configs are far smaller",
  });
}

/** Refuses a declared size above the limit before anything is fetched or read. */
export function checkDeclaredSize(what: string, size: number, limit: number, where: string): void {
  if (size > limit) throw tooLarge(what, limit, where, size);
}

function describeBytes(n: number): string {
  return n >= MiB && n % MiB === 0
    ? `${n / MiB} MiB`
    : n >= MiB
      ? `${(n / MiB).toFixed(1)} MiB`
      : `${n} bytes`;
}
