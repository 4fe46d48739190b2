import { lockfileDependencies, type ProvenanceContext, targetParameters } from "./image-provenance.ts";
import { provenanceStatement, provenanceTimes, type ResourceDescriptor, tugBuildType } from "./provenance.ts";
import { purlOf, type SbomPackage, sortedPackages } from "./sbom-model.ts";

// A lambda or layer zip's SLSA v1 provenance: the same statement images get, with the zip's
// sha256 as subject, written beside it as NAME.zip.intoto.json. Its dependencies are the
// lockfiles, the git revision and every package the zip holds (wheels by sha256, npm packages by
// their lockfile integrity when known). Times appear only outside reproducible mode.

/** The suffix of a zip's provenance file: `NAME.zip.intoto.json`. */
export const ZIP_PROVENANCE_SUFFIX = ".intoto.json";

/** What a zip's plan carries to have its statement written beside it. */
export interface ZipProvenance {
  ctx: ProvenanceContext;
  /** The lambda or layer target, as configured (secrets and host paths are left out). */
  target: { name: string } & object;
  /** Directories whose lockfiles the statement names (the project's, a function's own). */
  lockDirs: readonly string[];
}

function packageDependency(p: SbomPackage): ResourceDescriptor {
  const digest: Record<string, string> = {};
  if (p.sha256) digest.sha256 = p.sha256;
  for (const c of p.checksums ?? []) digest[c.algorithm.toLowerCase()] ??= c.hex;
  return { name: p.fileName ?? `${p.name}@${p.version}`, uri: purlOf(p), digest };
}

export async function zipProvenanceStatement(o: {
  provenance: ZipProvenance;
  zipName: string;
  sha256: string;
  kind: "lambda" | "layer";
  packages: readonly SbomPackage[];
}): Promise<string> {
  const { ctx, target, lockDirs } = o.provenance;
  const [git, locks] = await Promise.all([ctx.git(), lockfileDependencies(lockDirs, ctx.project.dir)]);
  const deps: ResourceDescriptor[] = [...locks, ...sortedPackages(o.packages).map(packageDependency)];
  if (git.revision)
    deps.push({
      name: "source",
      ...(git.source ? { uri: `git+${git.source}` } : {}),
      digest: { gitCommit: git.revision },
    });
  return provenanceStatement({
    subjects: [{ name: o.zipName, sha256: o.sha256 }],
    buildType: tugBuildType("zip"),
    externalParameters: {
      target: target.name,
      kind: o.kind,
      config: targetParameters(target, ctx.project.dir),
    },
    resolvedDependencies: deps,
    times: provenanceTimes(ctx.started, new Date(), ctx.env),
  });
}
