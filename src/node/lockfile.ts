import { TugError } from "../errors.ts";

/** One installed package of a package-lock.json (v2/v3 "packages" map). */
export interface LockedPackage {
  /** Install path relative to the project, e.g. node_modules/a/node_modules/@s/b. */
  path: string;
  version: string;
  optional: boolean;
}

interface RawEntry {
  version?: unknown;
  dev?: unknown;
  optional?: unknown;
  link?: unknown;
}

/**
 * The packages `npm ci --omit=dev` installs, from a package-lock.json or npm-shrinkwrap.json
 * (lockfileVersion 2 or 3: npm ≥ 7). Paths are checked: a lockfile is outside input, and its
 * keys become paths in the image.
 */
export function productionPackages(text: string, where: string): LockedPackage[] {
  let lock: { lockfileVersion?: unknown; packages?: unknown };
  try {
    lock = JSON.parse(text) as typeof lock;
  } catch (e) {
    throw new TugError({ what: `package-lock.json is not JSON: ${(e as Error).message}`, where });
  }
  if (typeof lock !== "object" || lock === null || typeof lock.packages !== "object" || !lock.packages) {
    throw new TugError({
      what: `package-lock.json has no "packages" map (lockfileVersion ${String(lock?.lockfileVersion)})`,
      where,
      hint: "regenerate it with npm 7 or later: npm install --package-lock-only",
    });
  }
  const out: LockedPackage[] = [];
  for (const [path, raw] of Object.entries(lock.packages as Record<string, RawEntry>)) {
    if (path === "") continue; // the project itself
    if (typeof raw !== "object" || raw === null) continue;
    if (raw.dev === true) continue; // devOptional stays: npm omits it only with --omit=optional too
    const segments = path.split("/");
    const ok =
      segments[0] === "node_modules" &&
      segments.every((s) => s !== "" && s !== "." && s !== ".." && !s.includes("\\")) &&
      segments[segments.length - 1] !== "node_modules";
    if (!ok) {
      if (raw.link === true || !path.startsWith("node_modules/")) continue; // workspace sources, not installs
      throw new TugError({
        what: `package-lock.json names an unsafe install path ${JSON.stringify(path)}`,
        where,
      });
    }
    if (raw.link === true) {
      throw new TugError({
        what: `${path} is a link (a workspace or file: dependency); bundle: false installs only registry packages`,
        where,
        hint: "bundle the app (bundle: true), or publish the linked package",
      });
    }
    if (typeof raw.version !== "string") continue;
    out.push({ path, version: raw.version, optional: raw.optional === true });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Every installed package's locked version by install path (dev ones too: a bundle may inline
 * them), skipping links and paths that are no installs; undefined for a lockfile that is not
 * npm's JSON. For checks, never for paths in an image.
 */
export function lockedVersions(text: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  let lock: { packages?: unknown; dependencies?: unknown } | null;
  try {
    lock = JSON.parse(text) as typeof lock;
  } catch {
    return undefined;
  }
  const packages = lock?.packages;
  if (typeof packages !== "object" || packages === null) {
    // lockfileVersion 1 (npm 6): nested `dependencies`, each installed under its parent.
    const walk = (deps: unknown, at: string) => {
      if (typeof deps !== "object" || deps === null) return;
      for (const [name, raw] of Object.entries(
        deps as Record<string, RawEntry & { dependencies?: unknown }>,
      )) {
        if (typeof raw !== "object" || raw === null) continue;
        const path = `${at}node_modules/${name}`;
        if (typeof raw.version === "string") out.set(path, raw.version);
        walk(raw.dependencies, `${path}/`);
      }
    };
    walk(lock?.dependencies, "");
    return out.size > 0 ? out : undefined;
  }
  for (const [path, raw] of Object.entries(packages as Record<string, RawEntry>)) {
    if (!path.startsWith("node_modules/") || typeof raw !== "object" || raw === null || raw.link === true)
      continue;
    if (typeof raw.version === "string") out.set(path, raw.version);
  }
  return out;
}
