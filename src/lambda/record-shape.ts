import { isAbsolute } from "node:path";
import { isDigest } from "../oci/digest.ts";
import { isSha256Hex } from "../util/sha256-hex.ts";

// Shape checks for lambda records read back from the cache. A record is bytes from disk (or a
// shared cache): a corrupt one must be a miss, never a digest or path taken on trust.

export type Check = (v: unknown) => boolean;

export const isString: Check = (v) => typeof v === "string";
export const isCount: Check = (v) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
export const isZipDigest: Check = (v) => typeof v === "string" && isDigest(v) && isSha256Hex(v.slice(7));

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An object whose every value passes `value` (keys are absolute paths in these records). */
export const mapOf =
  (value: Check): Check =>
  (v) =>
    isObject(v) && Object.entries(v).every(([k, x]) => isAbsolute(k) && value(x));

export const arrayOf =
  (item: Check): Check =>
  (v) =>
    Array.isArray(v) && v.every(item);

/** An object with at least these fields, each passing its check (optional ones may be absent). */
export const shape =
  (fields: Record<string, Check>, optional: Record<string, Check> = {}): Check =>
  (v) =>
    isObject(v) &&
    Object.entries(fields).every(([k, check]) => check(v[k])) &&
    Object.entries(optional).every(([k, check]) => v[k] === undefined || check(v[k]));

export const isDistribution = shape({ name: isString, version: isString, wheel: isString });
