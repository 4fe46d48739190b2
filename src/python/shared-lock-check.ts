/*
 * A resolution lock read back from the cache (local, or a teammate's through the shared cache)
 * names wheels by file name, URL and sha256; each of those later names a file in the CAS, a
 * download, or an entry written into a zip. Before a lock is used, each must have the shape an
 * index could legitimately have given (rule 1 of issue 9); a lock that does not is a miss and
 * the requirements are resolved again. A shared lock may name only http(s) URLs: locks made
 * from a file: index stay local (they name paths on the machine that made them).
 */

const SHA256_RE = /^[0-9a-f]{64}$/;
// A wheel file name as PEP 427 spells it: no directory part, no "..", ends in .whl.
const WHEEL_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.+!-]*\.whl$/;

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}

export function isSafeLockDistribution(d: unknown, shared: boolean): boolean {
  if (typeof d !== "object" || d === null) return false;
  const { sha256, wheel, url } = d as Record<string, unknown>;
  return (
    typeof sha256 === "string" &&
    SHA256_RE.test(sha256) &&
    typeof wheel === "string" &&
    WHEEL_NAME_RE.test(wheel) &&
    !wheel.includes("..") &&
    typeof url === "string" &&
    (!shared || isHttpUrl(url))
  );
}

/** Whether a lock record's text is a lock whose every wheel is safely named (shared: http(s) only). */
export function isSafeLockText(text: unknown, shared: boolean): text is string {
  if (typeof text !== "string") return false;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return false;
  }
  if (typeof doc !== "object" || doc === null) return false;
  const distributions = (doc as { distributions?: unknown }).distributions;
  return Array.isArray(distributions) && distributions.every((d) => isSafeLockDistribution(d, shared));
}
