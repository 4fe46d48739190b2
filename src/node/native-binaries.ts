import { TugError } from "../errors.ts";
import type { Platform } from "../oci/types.ts";
import { ELF_MACHINE, elfMachine, machineName } from "./elf.ts";

export interface InstalledFile {
  /** Relative to the node_modules directory, '/'-separated. */
  path: string;
  abs: string;
  type: "file" | "dir" | "symlink";
}

/** The package a node_modules-relative path belongs to: `a`, `@s/b`, `a/node_modules/b`. */
export function packageOf(path: string): string | undefined {
  const segments = path.split("/");
  const last = segments.lastIndexOf("node_modules");
  const rest = segments.slice(last + 1);
  const name = rest[0]?.startsWith("@") ? rest.slice(0, 2) : rest.slice(0, 1);
  if (name.length === 0 || (name[0]!.startsWith("@") && name.length < 2) || name[0]!.startsWith("."))
    return undefined;
  if (rest.length === name.length) return undefined; // the package directory itself
  return [...segments.slice(0, last + 1), ...name].join("/");
}

/**
 * Every native package of a node_modules tree (one with a binding.gyp or `.node` files) must
 * hold a `.node` ELF for the platform's architecture: a package compiled at install time
 * (node-gyp) has only the host's binary, and other platforms are installed without scripts.
 * Non-ELF `.node` files (macOS, Windows prebuilds) are ignored. Throws naming the package.
 */
export async function checkNativeBinaries(o: {
  files: InstalledFile[];
  platform: Platform;
  where: string;
}): Promise<void> {
  const wanted = ELF_MACHINE[o.platform.architecture];
  if (wanted === undefined) return; // an architecture without a known e_machine: nothing to compare
  const platform = `${o.platform.os}/${o.platform.architecture}${o.platform.variant ? `/${o.platform.variant}` : ""}`;
  const binaries = new Map<string, string[]>();
  for (const f of o.files) {
    if (f.type !== "file") continue;
    const pkg = packageOf(f.path);
    if (!pkg) continue;
    const inPackage = f.path.slice(pkg.length + 1);
    if (f.path.endsWith(".node")) binaries.set(pkg, [...(binaries.get(pkg) ?? []), f.abs]);
    else if (inPackage === "binding.gyp" && !binaries.has(pkg)) binaries.set(pkg, []);
  }
  for (const [pkg, files] of [...binaries].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const machines = new Set<number>();
    for (const f of files) {
      const m = await elfMachine(f);
      if (m !== undefined) machines.add(m);
    }
    if (machines.has(wanted)) continue;
    const name = pkg.replace(/^.*node_modules\//, "");
    const found =
      machines.size > 0
        ? `its .node files are for ${[...machines].map(machineName).join(", ")}`
        : files.length > 0
          ? "none of its .node files is a Linux (ELF) binary"
          : "it has no .node file: it is compiled when installed, and tug installs other platforms without running install scripts";
    throw new TugError({
      what: `native package ${name} has no binary for ${platform} (${found})`,
      where: o.where,
      hint: `use a version that ships prebuilt binaries for ${platform} (optionalDependencies or prebuilds/), build this platform's image on a ${o.platform.architecture} machine, or drop ${platform} from platforms:`,
    });
  }
}
