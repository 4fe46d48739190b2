import { promises as fs } from "node:fs";
import { join } from "node:path";
import { TugError } from "../errors.ts";
import { type ConstraintContext, certainlyExcluded } from "./constraints.ts";
import { type GoPackage, parseGoList } from "./packages.ts";

/**
 * Whether a Go file's header imports "C": everything before the first top-level declaration, where
 * a line holding only `"C"` (or `import "C"`) can only be that import.
 */
export function importsC(text: string): boolean {
  const lines = text.split("\n");
  const firstDecl = lines.findIndex((l) => /^(func|type|var|const)\b/.test(l));
  const head = firstDecl < 0 ? lines : lines.slice(0, firstDecl);
  return head.some((l) => /^\s*(import\s+)?"C"\s*(\/\/.*)?$/.test(l));
}

/**
 * Non-standard packages whose ignored files import "C": with CGO_ENABLED=0 the cgo constraint
 * left them out (or another constraint did: a `_windows.go` file; `go list` with cgo on tells).
 * Standard packages (net, os/user) are not asked about: a static build is what tug promises.
 * Files certainly left out with cgo on too (`//go:build ignore`, `_windows.go` on linux: x/sys
 * holds many) are not suspects, so most builds need no second `go list`.
 */
export async function cgoSuspects(
  packages: GoPackage[],
  constraints: ConstraintContext,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const p of packages) {
    if (p.Standard || !p.IgnoredGoFiles?.length) continue;
    const texts = await Promise.all(
      p.IgnoredGoFiles.map((f) => fs.readFile(join(p.Dir, f), "utf8").catch(() => "")),
    );
    const files = p.IgnoredGoFiles.filter((f, i) => {
      const text = texts[i] ?? "";
      return importsC(text) && !certainlyExcluded(f, text, constraints);
    });
    if (files.length > 0) out.set(p.ImportPath, files);
  }
  return out;
}

/**
 * Refuses a build that silently swaps cgo code for a `//go:build !cgo` fallback (the go-sqlite3
 * shape): tug builds with CGO_ENABLED=0, the golang image's `go build` with cgo on, so the two
 * would ship different programs. `listWithCgo` lists the given packages with CGO_ENABLED=1 (same
 * platform, flags, tags) and is called only when some ignored file imports "C".
 */
export async function checkCgoFallbacks(o: {
  packages: GoPackage[];
  listWithCgo: (importPaths: string[]) => Promise<string>;
  /** The build's platform and tags; "cgo" is added here. */
  constraints: ConstraintContext;
  target: string;
  where?: string;
}): Promise<void> {
  const constraints = { ...o.constraints, tags: [...o.constraints.tags, "cgo"] };
  const suspects = await cgoSuspects(o.packages, constraints);
  if (suspects.size === 0) return;
  const withCgo = parseGoList(await o.listWithCgo([...suspects.keys()]));
  for (const p of withCgo) {
    const left = (p.CgoFiles ?? []).filter((f) => suspects.get(p.ImportPath)?.includes(f));
    if (left.length === 0) continue;
    throw new TugError({
      what: `${o.target}: package ${p.ImportPath} has cgo files (${left.join(", ")}) that tug's CGO_ENABLED=0 build leaves out`,
      where: o.where,
      hint:
        "go build with cgo on (the golang image's default) compiles them; tug's static build would ship the package's " +
        'non-cgo code instead. Set build_env: {CGO_ENABLED: "0"} to accept that (as a Dockerfile with ' +
        "CGO_ENABLED=0 would), or use a pure-Go alternative of the package",
    });
  }
}
