import { clean, explain, rcompare, satisfies, validRange } from "@renovatebot/pep440";
import { TugError } from "../errors.ts";
import type { IndexFile } from "./index-page.ts";
import { normalizeName } from "./name.ts";
import { formatGlibc, type PythonTarget } from "./runtime.ts";
import { type TagPriority, tagPriority, tagsFor } from "./tags.ts";
import { bestTagIndex, parseWheelName, type WheelName } from "./wheel-name.ts";

/** One installable version: the best wheel of that version for the target. */
export interface Candidate {
  version: string;
  file: IndexFile;
  wheel: WheelName;
  /** The wheel's best tag for the target, and its priority index (0 = best). */
  tag: string;
  tagIndex: number;
}

/** Why a version that matched the specifier was not a candidate. */
export interface RejectedVersion {
  version: string;
  reason: "no-compatible-wheel" | "requires-python" | "yanked";
  /** Up to a few distinct tag triples its wheels carry (for "no-compatible-wheel"). */
  offeredTags: string[];
  /** The requires-python that excluded it (for "requires-python"). */
  requiresPython?: string;
}

/** The facts a "no wheel fits" error needs, gathered while filtering. */
export interface NoCompatibleWheel {
  name: string;
  specifier: string;
  target: Pick<PythonTarget, "runtime" | "machine" | "python" | "glibc" | "os">;
  /** Every version that matched the specifier, newest first, with why it was left out. */
  looked: RejectedVersion[];
}

export interface CandidatesResult {
  /** Newest first; only versions with a wheel the target can install. */
  candidates: Candidate[];
  /** Set when `candidates` is empty. */
  noCompatibleWheel?: NoCompatibleWheel;
}

export interface CandidatesOptions {
  /** The project's name (files of other projects on the page are ignored). */
  name: string;
  files: readonly IndexFile[];
  target: Pick<PythonTarget, "runtime" | "machine" | "python" | "glibc" | "os">;
  /** PEP 440 specifier as in Requirement.specifier; "" = any version. */
  specifier: string;
  /** Tag priority for the target; computed from `target` when omitted. */
  tags?: TagPriority;
  /** Allow pre-releases even when the specifier does not name one. */
  prereleases?: boolean;
}

const MAX_TAGS_SHOWN = 4;

/** `==X` or `===X` with no wildcard: PEP 592 lets a pin select a yanked file. */
function isExactPin(specifier: string): boolean {
  return /^(===?)[^,*]+$/.test(specifier.trim());
}

function matches(version: string, specifier: string, prereleases: boolean): boolean {
  if (specifier.trim() === "") return prereleases || explain(version)?.is_prerelease === false;
  return satisfies(version, specifier, { prereleases });
}

interface Parsed {
  file: IndexFile;
  wheel: WheelName;
}

// The tag list of a target has ~1,000 entries (every manylinux glibc, every interpreter): made once
// per target, not once per project the resolver looks at.
const priorities = new Map<string, TagPriority>();

function targetPriority(target: CandidatesOptions["target"]): TagPriority {
  const key = `${target.python.join(".")}|${target.machine}|${formatGlibc(target.glibc)}`;
  let p = priorities.get(key);
  if (!p) {
    p = tagPriority(tagsFor(target));
    priorities.set(key, p);
  }
  return p;
}

/**
 * The versions of a project the target can install, newest first, each with its best wheel.
 * Compatibility is decided before the newest version is chosen (Pants #17621): a release whose
 * only wheels need a newer glibc is skipped, not picked and then found uninstallable.
 */
export function candidates(options: CandidatesOptions): CandidatesResult {
  const { target, specifier } = options;
  const priority = options.tags ?? targetPriority(target);
  const tagList = [...priority.keys()];
  const python = `${target.python[0]}.${target.python[1]}.0`;
  const pinned = isExactPin(specifier);
  const prereleases = options.prereleases ?? false;
  const project = normalizeName(options.name);

  const byVersion = new Map<string, Parsed[]>();
  for (const file of options.files) {
    if (!file.filename.endsWith(".whl")) continue;
    let wheel: WheelName;
    try {
      wheel = parseWheelName(file.filename);
    } catch {
      continue; // a malformed name on an index is not this build's problem
    }
    if (wheel.normalizedName !== project) continue;
    const version = clean(wheel.version);
    if (!version || !matches(version, specifier, prereleases)) continue;
    const list = byVersion.get(version) ?? [];
    list.push({ file, wheel });
    byVersion.set(version, list);
  }

  const out: Candidate[] = [];
  const looked: RejectedVersion[] = [];
  for (const version of [...byVersion.keys()].sort(rcompare)) {
    const files = byVersion.get(version) ?? [];
    let best: Candidate | undefined;
    let reason: RejectedVersion["reason"] = "no-compatible-wheel";
    let requiresPython: string | undefined;
    for (const { file, wheel } of files) {
      if (file.yanked !== undefined && !pinned) {
        reason = reason === "no-compatible-wheel" ? "yanked" : reason;
        continue;
      }
      // pip ignores a requires-python it cannot parse; so do we.
      const rp = file.requiresPython?.trim();
      if (rp && validRange(rp) && !satisfies(python, rp, { prereleases: true })) {
        reason = "requires-python";
        requiresPython = rp;
        continue;
      }
      const index = bestTagIndex(wheel, priority);
      if (index === undefined) continue;
      const better =
        !best ||
        index < best.tagIndex ||
        (index === best.tagIndex && (wheel.build?.[0] ?? -1) > (best.wheel.build?.[0] ?? -1));
      if (better) best = { version, file, wheel, tag: tagList[index] ?? "", tagIndex: index };
    }
    if (best) {
      out.push(best);
      continue;
    }
    const offered = [
      ...new Set(files.map((f) => f.wheel.filename.split("-").slice(-3).join("-").slice(0, -4))),
    ];
    const rejected: RejectedVersion = {
      version,
      reason,
      offeredTags: offered.slice(0, MAX_TAGS_SHOWN),
    };
    if (requiresPython) rejected.requiresPython = requiresPython;
    looked.push(rejected);
  }
  if (out.length > 0) return { candidates: out };
  return { candidates: out, noCompatibleWheel: { name: options.name, specifier, target, looked } };
}

/** The user-facing error for a project with no installable version, with the usual fixes. */
export function noCompatibleWheelError(info: NoCompatibleWheel, where?: string): TugError {
  const t = info.target;
  const py = `python${t.python[0]}.${t.python[1]}`;
  const spec = info.specifier ? ` ${info.specifier}` : "";
  if (info.looked.length === 0) {
    return new TugError({
      what: `no version of ${info.name}${spec} has wheels on the index`,
      where,
      hint: "check the name and the specifier; tug installs wheels only (no sdists)",
    });
  }
  const shown = info.looked.slice(0, 5).map((v) => {
    const why =
      v.reason === "requires-python"
        ? `requires-python ${v.requiresPython ?? ""}`
        : v.reason === "yanked"
          ? "yanked"
          : v.offeredTags.join(", ");
    return `${v.version} (${why})`;
  });
  const more = info.looked.length > shown.length ? `, … ${info.looked.length - shown.length} more` : "";
  return new TugError({
    what: `no wheel of ${info.name}${spec} fits ${py} on ${t.machine} (glibc ≤ ${formatGlibc(t.glibc)}, ${t.os}); looked at ${shown.join("; ")}${more}`,
    where,
    hint: noWheelHint(info),
  });
}

const MANYLINUX = /^(?:manylinux_(\d+)_(\d+)|manylinux(1|2010|2014))_(\w+)$/;
const LEGACY_GLIBC: Readonly<Record<string, number>> = { "1": 5, "2010": 12, "2014": 17 };

/** The fix that fits what the rejected versions offer: a glibc override only helps some of them. */
function noWheelHint(info: NoCompatibleWheel): string {
  const t = info.target;
  const other = `pin another version of ${info.name}`;
  const platforms = info.looked.flatMap((v) => v.offeredTags.map((tag) => tag.split("-")[2] ?? ""));
  const linux = platforms.flatMap((tags) =>
    tags.split(".").flatMap((p) => {
      const m = MANYLINUX.exec(p);
      if (!m) return [];
      const minor = m[3] ? (LEGACY_GLIBC[m[3]] ?? 0) : Number(m[2]);
      return [{ machine: m[4] ?? "", minor }];
    }),
  );
  const here = linux.filter((l) => l.machine === t.machine);
  const newer = here.filter((l) => l.minor > t.glibc.minor).map((l) => l.minor);
  if (newer.length > 0) {
    const need = `2.${Math.min(...newer)}`;
    const runtime = t.glibc.minor < 34 ? ", or use a newer runtime (python3.12+ runs on glibc 2.34)" : "";
    return `${other}, or raise the ceiling with glibc: "${need}" if your runtime has it${runtime}`;
  }
  if (info.looked.every((v) => v.reason === "requires-python")) {
    return `${other}, or use a runtime its requires-python allows`;
  }
  if (here.length === 0 && linux.length > 0) {
    return `${other} that has manylinux wheels for ${t.machine}, or set architecture: ${t.machine === "aarch64" ? "x86_64" : "arm64"} (its Linux wheels are for ${[...new Set(linux.map((l) => l.machine))].join(", ")})`;
  }
  if (linux.length === 0) {
    return `${info.name} publishes no manylinux wheels in these versions (tug installs wheels only and cannot build an sdist for Lambda); ${other} that has manylinux wheels, or replace it`;
  }
  return `${other}, or use a runtime whose Python version its wheels are built for`;
}
