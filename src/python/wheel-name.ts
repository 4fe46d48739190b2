import { TugError } from "../errors.ts";
import { isValidName, normalizeName } from "./name.ts";
import { type TagPriority, tagPriority } from "./tags.ts";

/** The parts of a PEP 427 wheel filename, with compressed tag sets expanded. */
export interface WheelName {
  filename: string;
  /** The name as written in the filename (PEP 427 escapes `-` to `_`). */
  name: string;
  /** PEP 503 normalised name, for comparing with requirements. */
  normalizedName: string;
  /** Version string as written; compare with the PEP 440 library, not as text. */
  version: string;
  /** Optional build tag: [number, rest], e.g. "1local" → [1, "local"]; sorts wheels of one version. */
  build: readonly [number, string] | undefined;
  pythonTags: readonly string[];
  abiTags: readonly string[];
  platformTags: readonly string[];
  /** Every python-abi-platform triple the filename claims (the product of the three sets). */
  tags: readonly string[];
}

const TAG_PART = /^[A-Za-z0-9_]+$/;

function bad(filename: string, why: string): TugError {
  return new TugError({
    what: `"${filename}" is not a valid wheel filename: ${why}`,
    hint: "wheel files are named NAME-VERSION(-BUILD)?-PYTHON-ABI-PLATFORM.whl (PEP 427)",
  });
}

/** Parses a wheel filename (a bare name, not a path or URL); throws a TugError when malformed. */
export function parseWheelName(filename: string): WheelName {
  if (!filename.endsWith(".whl")) throw bad(filename, "it does not end in .whl");
  const parts = filename.slice(0, -".whl".length).split("-");
  if (parts.length !== 5 && parts.length !== 6) {
    throw bad(filename, `expected 5 or 6 dash-separated parts, found ${parts.length}`);
  }
  const [name = "", version = ""] = parts;
  const [py = "", abi = "", plat = ""] = parts.slice(-3);
  if (!isValidName(name)) throw bad(filename, `"${name}" is not a project name`);
  if (!/^[A-Za-z0-9_.!+]+$/.test(version)) throw bad(filename, `"${version}" is not a version`);
  let build: readonly [number, string] | undefined;
  if (parts.length === 6) {
    const m = /^(\d+)(.*)$/.exec(parts[2] ?? "");
    if (!m) throw bad(filename, `build tag "${parts[2]}" must start with a digit`);
    build = [Number(m[1]), m[2] ?? ""];
  }
  // packaging.tags.Tag lowercases, so tags compare case-insensitively.
  const sets = [py, abi, plat].map((s) => s.toLowerCase().split("."));
  for (const set of sets) {
    for (const t of set) if (!TAG_PART.test(t)) throw bad(filename, `"${t}" is not a tag`);
  }
  const [pythonTags = [], abiTags = [], platformTags = []] = sets;
  const tags: string[] = [];
  for (const p of pythonTags) {
    for (const a of abiTags) for (const pl of platformTags) tags.push(`${p}-${a}-${pl}`);
  }
  return {
    filename,
    name,
    normalizedName: normalizeName(name),
    version,
    build,
    pythonTags,
    abiTags,
    platformTags,
    tags,
  };
}

// Callers usually hold one tag list for many wheels; build its index once.
const priorities = new WeakMap<readonly string[], TagPriority>();

function priorityOf(target: readonly string[] | TagPriority): TagPriority {
  if ("get" in target) return target;
  let p = priorities.get(target);
  if (!p) {
    p = tagPriority(target);
    priorities.set(target, p);
  }
  return p;
}

/**
 * The priority index (0 = best) of the wheel's best tag in the target's list, or undefined
 * when the wheel cannot be installed there. Filter candidates with this before picking the
 * newest version, so an incompatible newer release never shadows a compatible older one.
 */
export function bestTagIndex(
  wheel: Pick<WheelName, "tags">,
  target: readonly string[] | TagPriority,
): number | undefined {
  const priority = priorityOf(target);
  let best: number | undefined;
  for (const tag of wheel.tags) {
    const i = priority.get(tag);
    if (i !== undefined && (best === undefined || i < best)) best = i;
  }
  return best;
}

export function isCompatible(
  wheel: Pick<WheelName, "tags">,
  target: readonly string[] | TagPriority,
): boolean {
  return bestTagIndex(wheel, target) !== undefined;
}
