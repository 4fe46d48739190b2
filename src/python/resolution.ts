import { TugError } from "../errors.ts";
import { isSha256Hex, type Sha256Hex } from "../util/sha256-hex.ts";
import { formatGlibc, type PythonTarget } from "./runtime.ts";

/** One distribution a function installs: the wheel chosen for its target. */
export interface ResolvedDistribution {
  /** PEP 503 normalised name. */
  name: string;
  version: string;
  /** The wheel's filename. */
  wheel: string;
  /** Names the wheel in the cache: checked, from the index, the downloaded bytes or a lock. */
  sha256: Sha256Hex;
  /** Without credentials: a lock travels through the shared cache. */
  url: string;
  /** Who asked for it: requirement locations ("requirements.txt:3") or distribution names. Sorted. */
  requiredBy: string[];
}

export interface Resolution {
  target: PythonTarget;
  /** Sorted by name. */
  distributions: ResolvedDistribution[];
}

const LOCK_VERSION = 1;

function targetKey(t: PythonTarget): string {
  return `${t.runtime}/${t.arch} glibc ${formatGlibc(t.glibc)}`;
}

/** The lock file form of a resolution: stable JSON, the same bytes for the same resolution. */
export function toLock(resolution: Resolution): string {
  const t = resolution.target;
  const doc = {
    version: LOCK_VERSION,
    target: { runtime: t.runtime, arch: t.arch, glibc: formatGlibc(t.glibc) },
    distributions: resolution.distributions.map((d) => ({
      name: d.name,
      version: d.version,
      wheel: d.wheel,
      sha256: d.sha256,
      url: d.url,
      requiredBy: [...d.requiredBy],
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function malformed(why: string, where?: string): TugError {
  return new TugError({
    what: `the lock is malformed: ${why}`,
    where,
    hint: "delete it and build again to re-resolve from the index",
  });
}

function str(o: Record<string, unknown>, key: string, where?: string): string {
  const v = o[key];
  if (typeof v !== "string" || v === "") throw malformed(`"${key}" must be a non-empty string`, where);
  return v;
}

function record(v: unknown, what: string, where?: string): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw malformed(`${what} must be an object`, where);
  return v as Record<string, unknown>;
}

/** A lock's wheel URL: http(s) or file, never with a login in it. */
function lockedUrl(text: string, where?: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw malformed("a wheel URL is not a URL", where);
  }
  if (!["http:", "https:", "file:"].includes(u.protocol)) throw malformed(`a ${u.protocol} wheel URL`, where);
  if (u.username !== "" || u.password !== "") throw malformed("a wheel URL carries credentials", where);
  return text;
}

/**
 * Reads a lock written by `toLock` for `target`, with no index request: the wheels' URLs and
 * hashes are in it, so a repeat build goes straight to the sha256 cache. A lock made for another
 * runtime, architecture or glibc ceiling is refused: its wheels may not fit this target.
 */
export function fromLock(json: string, target: PythonTarget, where?: string): Resolution {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw malformed(e instanceof Error ? e.message : String(e), where);
  }
  const doc = record(parsed, "the lock", where);
  if (doc.version !== LOCK_VERSION) throw malformed(`unknown version ${String(doc.version)}`, where);
  const t = record(doc.target, '"target"', where);
  const locked = `${str(t, "runtime", where)}/${str(t, "arch", where)} glibc ${str(t, "glibc", where)}`;
  if (locked !== targetKey(target)) {
    throw new TugError({
      what: `the lock was made for ${locked}, not ${targetKey(target)}`,
      where,
      hint: "delete the lock (or its entry) so tug resolves again for this target",
    });
  }
  if (!Array.isArray(doc.distributions)) throw malformed('"distributions" must be an array', where);
  const distributions = doc.distributions.map((entry: unknown): ResolvedDistribution => {
    const d = record(entry, "a distribution", where);
    const requiredBy = d.requiredBy;
    if (!Array.isArray(requiredBy) || !requiredBy.every((r) => typeof r === "string")) {
      throw malformed('"requiredBy" must be an array of strings', where);
    }
    const sha256 = str(d, "sha256", where);
    if (!isSha256Hex(sha256))
      throw malformed(`${JSON.stringify(sha256.slice(0, 80))} is not a sha256`, where);
    return {
      name: str(d, "name", where),
      version: str(d, "version", where),
      wheel: str(d, "wheel", where),
      sha256,
      url: lockedUrl(str(d, "url", where), where),
      requiredBy: [...requiredBy],
    };
  });
  distributions.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { target, distributions };
}
