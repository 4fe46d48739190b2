import { TUG_VERSION } from "../version.ts";

// An in-toto Statement v1 (github.com/in-toto/attestation spec/v1/statement.md) whose predicate
// is SLSA provenance v1 (slsa.dev/spec/v1.0/provenance): what was built (subjects), from what
// (buildDefinition) and by what (runDetails.builder). The URIs name tug's build types and builder;
// they identify, they need not resolve. Keys are written in one fixed order, so equal inputs give
// equal bytes; times appear only when the build is not reproducible (no SOURCE_DATE_EPOCH).

export const IN_TOTO_MEDIA_TYPE = "application/vnd.in-toto+json";
export const STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
export const SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1";
export const TUG_BUILDER_ID = `https://tug.dev/builder/tug@${TUG_VERSION}`;

export function tugBuildType(kind: "image" | "zip"): string {
  return `https://tug.dev/buildtypes/${kind}/v1`;
}

/** SLSA's ResourceDescriptor, the fields tug fills. */
export interface ResourceDescriptor {
  name?: string;
  uri?: string;
  digest: Record<string, string>;
}

export interface ProvenanceInput {
  subjects: ReadonlyArray<{ name: string; sha256: string }>;
  buildType: string;
  externalParameters: Record<string, unknown>;
  resolvedDependencies: readonly ResourceDescriptor[];
  /** RFC 3339; only outside reproducible mode. */
  times?: { startedOn: string; finishedOn: string };
}

/** Whether provenance carries build times: only when SOURCE_DATE_EPOCH does not pin the build. */
export function provenanceTimes(
  started: Date,
  finished: Date,
  env: NodeJS.ProcessEnv = process.env,
): ProvenanceInput["times"] {
  if (env.SOURCE_DATE_EPOCH !== undefined && env.SOURCE_DATE_EPOCH !== "") return undefined;
  const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
  return { startedOn: iso(started), finishedOn: iso(finished) };
}

const byName = (a: ResourceDescriptor, b: ResourceDescriptor) => {
  const ka = `${a.name ?? ""}\u0000${a.uri ?? ""}`;
  const kb = `${b.name ?? ""}\u0000${b.uri ?? ""}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};

/** JSON with object keys sorted at every level: the same value always gives the same bytes. */
export function sortedJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedJson);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortedJson((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export function provenanceStatement(input: ProvenanceInput): string {
  const statement = {
    _type: STATEMENT_TYPE,
    subject: input.subjects.map((s) => ({ name: s.name, digest: { sha256: s.sha256 } })),
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: input.buildType,
        externalParameters: sortedJson(input.externalParameters),
        resolvedDependencies: [...input.resolvedDependencies].sort(byName).map((d) => ({
          ...(d.name !== undefined ? { name: d.name } : {}),
          ...(d.uri !== undefined ? { uri: d.uri } : {}),
          digest: sortedJson(d.digest),
        })),
      },
      runDetails: {
        builder: { id: TUG_BUILDER_ID, version: { tug: TUG_VERSION } },
        ...(input.times
          ? { metadata: { startedOn: input.times.startedOn, finishedOn: input.times.finishedOn } }
          : {}),
      },
    },
  };
  return `${JSON.stringify(statement, null, 2)}\n`;
}
