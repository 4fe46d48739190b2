import { TugError } from "../errors.ts";

/** Lambda's names for the two CPU architectures, and the machine name Python reports. */
export type LambdaArch = "x86_64" | "arm64";
export type Machine = "x86_64" | "aarch64";

export interface GlibcVersion {
  major: number;
  minor: number;
}

/** One Lambda Python runtime on one architecture: everything tags and markers need. */
export interface PythonTarget {
  runtime: string;
  arch: LambdaArch;
  machine: Machine;
  /** CPython [major, minor]. */
  python: readonly [number, number];
  /**
   * The CPython release the runtime runs, "3.12.11": markers' python_full_version. From the
   * runtime table, or the lambda's `python_version` override.
   */
  fullVersion: string;
  /** Highest glibc the target promises: manylinux wheels above it are not installable. */
  glibc: GlibcVersion;
  /** "Amazon Linux 2" or "Amazon Linux 2023": for error messages. */
  os: string;
}

interface RuntimeRow {
  python: readonly [number, number];
  /** Patch level of CPython the managed runtime runs (see PATCH_LEVELS). */
  patch: number;
  glibc: GlibcVersion;
  os: string;
}

const AL2: Pick<RuntimeRow, "glibc" | "os"> = { glibc: { major: 2, minor: 26 }, os: "Amazon Linux 2" };
const AL2023: Pick<RuntimeRow, "glibc" | "os"> = {
  glibc: { major: 2, minor: 34 },
  os: "Amazon Linux 2023",
};

// https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html: python3.9–3.11 run on
// Amazon Linux 2 (glibc 2.26), python3.12 and later on AL2023 (glibc 2.34).
//
// Patch levels: the CPython release in the runtime's base image (public.ecr.aws/lambda/python:3.X,
// the same image the managed runtime is built from; `python3 -c "import sys; print(sys.version)"`
// in it), as of 2025-11 — not re-checked against the images from here (this machine reaches no
// container registry), so they are best known figures. AWS moves these forward without notice:
// they are the floor a function meets today, not a promise. Markers on python_full_version are
// evaluated against them, and `python_version: "3.11.9"` on a lambda or layer pins another
// figure (e.g. for a runtime version frozen with runtime management controls). A change here changes lock keys of that runtime only.
const RUNTIMES: ReadonlyMap<string, RuntimeRow> = new Map([
  ["python3.9", { python: [3, 9], patch: 23, ...AL2 }],
  ["python3.10", { python: [3, 10], patch: 18, ...AL2 }],
  ["python3.11", { python: [3, 11], patch: 13, ...AL2 }],
  ["python3.12", { python: [3, 12], patch: 11, ...AL2023 }],
  ["python3.13", { python: [3, 13], patch: 7, ...AL2023 }],
  ["python3.14", { python: [3, 14], patch: 0, ...AL2023 }],
]);

const MACHINES: Readonly<Record<LambdaArch, Machine>> = { x86_64: "x86_64", arm64: "aarch64" };

export const PYTHON_RUNTIMES: readonly string[] = [...RUNTIMES.keys()];
export const LAMBDA_ARCHES: readonly LambdaArch[] = ["x86_64", "arm64"];

export function isPythonRuntime(name: string): boolean {
  return RUNTIMES.has(name);
}

/** Parses a glibc override such as "2.28"; `where` names the setting for the error. */
export function parseGlibc(text: string, where?: string): GlibcVersion {
  const m = /^(\d+)\.(\d+)$/.exec(text.trim());
  if (!m || Number(m[1]) !== 2) {
    throw new TugError({
      what: `invalid glibc version "${text}"`,
      where,
      hint: 'write it as major.minor, e.g. glibc: "2.28"',
    });
  }
  return { major: 2, minor: Number(m[2]) };
}

export interface ParseRuntimeOptions {
  arch?: string;
  /** Override of the runtime's glibc ceiling ("2.28" or a parsed version). */
  glibc?: string | GlibcVersion;
  /** Override of the CPython release, "3.11.9": must be a release of the runtime's X.Y. */
  pythonVersion?: string;
  /** Where the runtime was named (e.g. `lambdas.plot (tug.yaml:12)`), for errors. */
  where?: string;
}

/** The target for a Lambda runtime name such as `python3.12`, default architecture x86_64. */
export function parseRuntime(name: string, options: ParseRuntimeOptions = {}): PythonTarget {
  const row = RUNTIMES.get(name);
  if (!row) {
    throw new TugError({
      what: `unknown Python Lambda runtime "${name}"`,
      where: options.where,
      hint: `use one of ${PYTHON_RUNTIMES.join(", ")}`,
    });
  }
  const arch = options.arch ?? "x86_64";
  if (arch !== "x86_64" && arch !== "arm64") {
    throw new TugError({
      what: `unknown Lambda architecture "${arch}"`,
      where: options.where,
      hint: `use one of ${LAMBDA_ARCHES.join(", ")}`,
    });
  }
  const glibc =
    options.glibc === undefined
      ? row.glibc
      : typeof options.glibc === "string"
        ? parseGlibc(options.glibc, options.where)
        : options.glibc;
  const fullVersion =
    options.pythonVersion === undefined
      ? `${row.python[0]}.${row.python[1]}.${row.patch}`
      : parsePythonVersion(options.pythonVersion, name, row.python, options.where);
  return { runtime: name, arch, machine: MACHINES[arch], python: row.python, fullVersion, glibc, os: row.os };
}

/** Checks a `python_version` override: X.Y.Z of the runtime's own X.Y. */
function parsePythonVersion(
  text: string,
  runtime: string,
  python: readonly [number, number],
  where: string | undefined,
): string {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(text.trim());
  const [major, minor] = python;
  if (!m) {
    throw new TugError({
      what: `invalid python_version "${text}"`,
      where,
      hint: `write the CPython release ${runtime} runs as major.minor.patch, e.g. python_version: "${major}.${minor}.9"`,
    });
  }
  if (Number(m[1]) !== major || Number(m[2]) !== minor) {
    throw new TugError({
      what: `python_version "${text}" is not a release of ${runtime} (Python ${major}.${minor})`,
      where,
      hint: `give a ${major}.${minor}.x release, or change the runtime to python${m[1]}.${m[2]}`,
    });
  }
  return `${major}.${minor}.${Number(m[3])}`;
}

/** The runtime table's CPython release for a runtime name (undefined when unknown). */
export function runtimePythonVersion(name: string): string | undefined {
  const row = RUNTIMES.get(name);
  return row && `${row.python[0]}.${row.python[1]}.${row.patch}`;
}

export function formatGlibc(v: GlibcVersion): string {
  return `${v.major}.${v.minor}`;
}
