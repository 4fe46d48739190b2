import { promises as fs } from "node:fs";
import { join } from "node:path";

/**
 * Packages that cannot be bundled: those with native addons (binding.gyp, `gypfile`,
 * prebuilt `.node` files) found in node_modules, plus the ones the user lists.
 */
export async function findNativePackages(nodeModules: string): Promise<string[]> {
  const found: string[] = [];
  let names: string[];
  try {
    names = await fs.readdir(nodeModules);
  } catch {
    return [];
  }
  const pkgs: string[] = [];
  for (const n of names) {
    if (n.startsWith(".")) continue;
    if (n.startsWith("@")) {
      for (const s of await fs.readdir(join(nodeModules, n)).catch(() => [] as string[]))
        pkgs.push(`${n}/${s}`);
    } else pkgs.push(n);
  }
  await Promise.all(
    pkgs.map(async (name) => {
      if (await isNative(join(nodeModules, name))) found.push(name);
    }),
  );
  return found.sort();
}

async function isNative(dir: string): Promise<boolean> {
  const exists = (p: string) =>
    fs.access(join(dir, p)).then(
      () => true,
      () => false,
    );
  if ((await exists("binding.gyp")) || (await exists("prebuilds"))) return true;
  try {
    const pkg = JSON.parse(await fs.readFile(join(dir, "package.json"), "utf8")) as { gypfile?: boolean };
    if (pkg.gypfile) return true;
  } catch {
    return false;
  }
  const release = await fs.readdir(join(dir, "build", "Release")).catch(() => [] as string[]);
  return release.some((f) => f.endsWith(".node"));
}

/** The package and everything it depends on at run time, as installed in node_modules. */
export async function runtimeClosure(nodeModules: string, roots: string[]): Promise<string[]> {
  const seen = new Set<string>();
  const visit = async (name: string): Promise<void> => {
    if (seen.has(name)) return;
    seen.add(name);
    let pkg: { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    try {
      pkg = JSON.parse(await fs.readFile(join(nodeModules, name, "package.json"), "utf8"));
    } catch {
      seen.delete(name); // not installed (e.g. an optional dependency for another platform)
      return;
    }
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) await visit(dep);
  };
  for (const r of roots) await visit(r);
  return [...seen].sort();
}
