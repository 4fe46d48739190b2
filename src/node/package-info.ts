import { readFile } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { npmLicense } from "../sbom/licenses.ts";
import type { SbomPackage } from "../sbom/sbom-model.ts";

// The npm packages a bundle holds, for its SBOM: each esbuild metafile input under a
// node_modules/ directory belongs to the nearest package.json (with a name and version) between
// it and that package's root. Inputs outside node_modules are the app's own sources (its own
// package.json is never listed) or workspace sources bundled from the repository.

const MAX_MANIFEST_BYTES = 1 << 20;

/** name, version and license of a package.json, or undefined when it names no package. */
export async function packageJsonInfo(path: string): Promise<SbomPackage | undefined> {
  let pkg: unknown;
  try {
    const text = await readFile(path, "utf8");
    if (text.length > MAX_MANIFEST_BYTES) return undefined;
    pkg = JSON.parse(text);
  } catch {
    return undefined;
  }
  return npmPackageOf(pkg);
}

/** An SBOM row from a parsed package.json, when it has a string name and version. */
export function npmPackageOf(pkg: unknown): SbomPackage | undefined {
  if (typeof pkg !== "object" || pkg === null) return undefined;
  const { name, version } = pkg as { name?: unknown; version?: unknown };
  if (typeof name !== "string" || typeof version !== "string" || name === "" || version === "")
    return undefined;
  if (name.length > 214 || version.length > 256) return undefined; // npm's own name limit
  const license = npmLicense(pkg);
  return { ecosystem: "npm", name, version, ...(license ? { license } : {}) };
}

/** The root directory of the package an input under node_modules belongs to. */
function packageRoot(file: string): string | undefined {
  const parts = file.split(sep);
  const at = parts.lastIndexOf("node_modules");
  if (at < 0 || at + 1 >= parts.length - 1) return undefined;
  const scoped = parts[at + 1]?.startsWith("@");
  const end = at + (scoped ? 3 : 2);
  if (end >= parts.length) return undefined;
  return parts.slice(0, end).join(sep);
}

/**
 * The packages whose files a bundle inlined, from absolute input paths; one row per name and
 * version, in a stable order.
 */
export async function bundledPackages(inputs: Iterable<string>): Promise<SbomPackage[]> {
  const byDir = new Map<string, Promise<SbomPackage | undefined>>();
  const info = (dir: string) => {
    let p = byDir.get(dir);
    if (!p) {
      p = packageJsonInfo(join(dir, "package.json"));
      byDir.set(dir, p);
    }
    return p;
  };
  const found = new Map<string, SbomPackage>();
  for (const file of inputs) {
    const root = packageRoot(file);
    if (!root) continue;
    let pkg: SbomPackage | undefined;
    for (let dir = dirname(file); dir.length >= root.length; dir = dirname(dir)) {
      pkg = await info(dir);
      if (pkg || dir === root) break;
    }
    if (pkg) found.set(`${pkg.name}@${pkg.version}`, pkg);
  }
  return [...found.values()].sort((a, b) => {
    const ka = `${a.name}@${a.version}`;
    const kb = `${b.name}@${b.version}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}
