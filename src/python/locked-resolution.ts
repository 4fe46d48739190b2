import type { CacheStore } from "../engine/cache-store.ts";
import { canonicalJson } from "../engine/key.ts";
import type { SimpleIndex } from "./index-client.ts";
import { indexUrlsForKeys } from "./index-urls.ts";
import type { Requirement } from "./requirement.ts";
import type { RequirementsSource } from "./requirements-source.ts";
import { fromLock, type Resolution, resolve, toLock } from "./resolver.ts";
import { formatGlibc, type PythonTarget } from "./runtime.ts";
import { isSafeLockText } from "./shared-lock-check.ts";

export interface LockedResolutionOptions {
  /** The function's own requirements (already narrowed to what it imports). */
  requirements: readonly Requirement[];
  source: Pick<RequirementsSource, "pins" | "hashes" | "constraints">;
  target: PythonTarget;
  ctx: {
    indexUrls: readonly string[];
    /** The indexes really used, when the requirements file changed them (python-context.ts). */
    resolveIndexUrls?: readonly string[];
    index: Pick<SimpleIndex, "projectFiles" | "metadata" | "wheelPath">;
    store?: CacheStore;
  };
}

// Bump when the resolver would choose differently for the same inputs.
const RESOLVER_VERSION = 1;

/**
 * The resolution for one function's requirements on one target, from the lock record when the
 * same requirements were resolved for the same target from the same indexes before: then no
 * index request is made at all (the lock names each wheel's URL and sha256). New releases on the
 * index are picked up only when the requirements change, as with any lock file.
 */
export async function lockedResolution(
  opts: LockedResolutionOptions & {
    /** Resolve from the index even when a lock exists, and replace it (a locked wheel is gone). */
    fresh?: boolean;
  },
): Promise<Resolution & { fromLock?: boolean }> {
  const { requirements, source, target, ctx } = opts;
  if (requirements.length === 0) return { target, distributions: [] };
  const urls = ctx.resolveIndexUrls ?? ctx.indexUrls;
  const key = canonicalJson({
    v: RESOLVER_VERSION,
    target: [target.runtime, target.arch, formatGlibc(target.glibc), target.fullVersion],
    indexUrls: indexUrlsForKeys(urls),
    // What is required, not where it is written: a comment line above it changes no resolution.
    requirements: requirements.map((r) => [r.name, r.extras, r.specifier, r.markerText ?? ""]),
    pins: [...source.pins].sort(),
    hashes: [...source.hashes].sort(),
    constraints: (source.constraints ?? []).map((r) => [r.name, r.specifier, r.markerText ?? ""]),
  });
  // A lock names wheel URLs: one for an index with credentials in its URL, or for a file: index
  // (paths on this machine), stays on this machine; only http(s) locks are shared.
  const shared = !urls.some((u) => hasCredentials(u) || !isHttp(u));
  const kind = shared ? "python-lock" : "python-lock-local";
  const lock = opts.fresh
    ? undefined
    : await ctx.store?.getRecord(kind, key, (v): v is string => isSafeLockText(v, shared));
  if (lock !== undefined) {
    try {
      const locked = fromLock(lock, target);
      if (fitsIndexes(locked, urls)) return { ...locked, fromLock: true };
    } catch {
      // A lock this tug cannot read any more (or a broken or hostile one from a shared cache:
      // a digest that is no sha256) is resolved again and replaced.
    }
  }
  const resolution = await resolve({
    requirements,
    target,
    index: ctx.index,
    pins: source.pins,
    hashes: source.hashes,
    constraints: source.constraints ?? [],
  });
  await ctx.store?.putRecord(kind, key, toLock(resolution));
  return resolution;
}

function isHttp(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

/** A lock may name file: wheels only when a file: index is in use (a shared lock must not read local files). */
function fitsIndexes(resolution: Resolution, indexUrls: readonly string[]): boolean {
  const fileIndex = indexUrls.some((u) => u.startsWith("file:"));
  return resolution.distributions.every((d) => fileIndex || !d.url.startsWith("file:"));
}

function hasCredentials(url: string): boolean {
  try {
    const u = new URL(url);
    return u.username !== "" || u.password !== "";
  } catch {
    return false;
  }
}
