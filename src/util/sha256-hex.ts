import { TugError } from "../errors.ts";

/**
 * A lowercase hex SHA-256, checked. The only way to get one is a parser below, so a value of
 * this type can name a file, a URL path or a cache key without escaping anything: bytes from an
 * index page, a registry, a lock or a shared cache never reach `join()` unchecked.
 */
export type Sha256Hex = string & { readonly __sha256Hex: unique symbol };

const HEX64 = /^[0-9a-f]{64}$/;

export function isSha256Hex(s: unknown): s is Sha256Hex {
  return typeof s === "string" && HEX64.test(s);
}

/** The hex, or a TugError naming where the bad value came from. */
export function parseSha256Hex(s: unknown, where: string): Sha256Hex {
  if (isSha256Hex(s)) return s;
  throw new TugError({
    what: `not a sha256 digest: ${describe(s)}`,
    where,
    hint: "a sha256 is 64 lowercase hex characters; the source is broken or hostile, fix or stop using it",
  });
}

/** The hex when valid, else undefined: for optional digests that are dropped, not fatal. */
export function sha256HexOrUndefined(s: unknown): Sha256Hex | undefined {
  return isSha256Hex(s) ? s : undefined;
}

/** Hex from a value the process computed itself (createHash(...).digest("hex")): checked all the same. */
export function ownSha256Hex(s: string): Sha256Hex {
  if (!HEX64.test(s)) throw new Error(`internal: not a sha256 hex: ${s.slice(0, 80)}`);
  return s as Sha256Hex;
}

function describe(s: unknown): string {
  if (typeof s !== "string") return typeof s;
  const shown = JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
  return shown;
}
