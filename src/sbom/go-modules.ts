import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { TugError } from "../errors.ts";
import type { SbomPackage } from "./sbom-model.ts";

// A Go binary's modules as its own build info records them (`go version -m`): the versions
// that were linked, not ones re-derived from go.mod.

/**
 * Packages from `go version -m` output: the main module (`mod`, version `(devel)` when built from
 * a checkout) and each dependency (`dep`). After a `=>` replacement line the entry keeps its
 * module path (what importers name) and takes the replacement's version, which is what was linked.
 */
export function goModulesFromBuildInfo(text: string): SbomPackage[] {
  const out: SbomPackage[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "mod" || f[0] === "dep") {
      if (!f[1]) continue;
      out.push({ ecosystem: "golang", name: f[1], version: f[2] ?? "(devel)" });
    } else if (f[0] === "=>" && f[1] && out.length > 0) {
      const replaced = out[out.length - 1] as SbomPackage;
      out[out.length - 1] = { ...replaced, version: f[2] ?? "(devel)" };
    }
  }
  return out;
}

/** `go version -m BINARY` as printed (go is on PATH wherever the Go builder runs). */
export async function goBuildInfo(binary: string): Promise<string> {
  return (await promisify(execFile)("go", ["version", "-m", binary], { maxBuffer: 16 << 20 })).stdout;
}

/** The modules `go version -m BINARY` names; an error when it names none. */
export async function goModulesOf(binary: string, where?: string): Promise<SbomPackage[]> {
  try {
    const stdout = await goBuildInfo(binary);
    const modules = goModulesFromBuildInfo(stdout);
    // `go version -m` exits 0 on a file that is no Go binary, and says so on stderr.
    if (modules.length === 0)
      throw new Error("no Go build info in it (not a Go binary, or built without modules)");
    return modules;
  } catch (e) {
    throw new TugError({
      what: `could not read the Go build info of ${binary}: ${(e as Error).message.split("\n")[0]}`,
      ...(where ? { where } : {}),
      hint: "the SBOM lists a Go image's modules from its binary; build with --sbom none to skip it",
    });
  }
}
