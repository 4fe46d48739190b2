import { clean, satisfies, validRange } from "@renovatebot/pep440";
import { TugError } from "../errors.ts";
import { type Candidate, candidates, type NoCompatibleWheel, noCompatibleWheelError } from "./candidates.ts";
import {
  type DistMetadata,
  type IndexFile,
  parseMetadata,
  type SimpleIndex,
  wheelSha256,
} from "./index-client.ts";
import { evaluateMarker, type MarkerEnvironment, markerEnvironment } from "./markers.ts";
import { normalizeName } from "./name.ts";
import { parseRequirement, type Requirement } from "./requirement.ts";
import type { Resolution, ResolvedDistribution } from "./resolution.ts";
import { formatGlibc, type PythonTarget } from "./runtime.ts";
import { parseWheelName } from "./wheel-name.ts";

export type { Resolution, ResolvedDistribution } from "./resolution.ts";
export { fromLock, toLock } from "./resolution.ts";

export interface ResolveOptions {
  /** The function's own requirements (see requirementsFor); a `file`/`line` on one names it in messages. */
  requirements: readonly Requirement[];
  target: PythonTarget;
  index: Pick<SimpleIndex, "projectFiles" | "metadata" | "wheelPath">;
  /** Extras to install for a distribution beyond those its requirements name (normalised name → extras). */
  extrasOf?: ReadonlyMap<string, readonly string[]>;
  /** Exact versions (e.g. from uv.lock), normalised name → version: only that version is a candidate. */
  pins?: ReadonlyMap<string, string>;
  /**
   * `--hash` pins, normalised name → "sha256:HEX" or "HEX": only wheels with one of these hashes are
   * candidates (like pip's --require-hashes, a version with no pinned file is skipped; uv.lock
   * pins several versions this way when they differ by Python version or platform).
   */
  hashes?: ReadonlyMap<string, readonly string[]>;
  /**
   * pip's `-c` constraints: each narrows the versions of its distribution when something requires
   * it, and never adds a distribution. Markers are evaluated for the target; a `file`/`line` names it.
   */
  constraints?: readonly Requirement[];
}

/** One requirement on a distribution, with who asked for it. */
interface Constraint {
  specifier: string;
  extras: readonly string[];
  /** "requirements.txt:3", "requirements" or "a 2.0": for messages. */
  by: string;
  /** The requirer as recorded in `requiredBy`: its location, or the requiring distribution's name. */
  byName: string;
  /** Set for a `-c` constraint: it narrows versions but asks for nothing. */
  limit?: true;
}

interface Chosen {
  candidate: Candidate;
  meta: DistMetadata;
  /** Contexts whose Requires-Dist are already added: "" (the base) and each extra. */
  expanded: Set<string>;
}

interface State {
  /** Insertion order is decision order: distributions are decided in the order they were first required. */
  constraints: Map<string, Constraint[]>;
  chosen: Map<string, Chosen>;
}

type Failure =
  | { kind: "conflict"; name: string; constraints: Constraint[]; chosen?: string; pin?: string }
  | { kind: "no-wheel"; info: NoCompatibleWheel; constraints: Constraint[] }
  | { kind: "error"; error: TugError };

// Each try of a candidate version counts; real requirement sets need tens, pathological ones stop here.
const MAX_ATTEMPTS = 2000;
const PRERELEASE = /\d(a|b|rc|c|dev|pre|preview|alpha|beta)\d*/i;

function rootLabel(req: Requirement): string {
  const r = req as Requirement & { file?: unknown; line?: unknown };
  const at =
    typeof r.file === "string" && typeof r.line === "number" ? `${r.file}:${r.line}` : "requirements";
  // A requirement a marker selected says so: the marker is why it is in this target's closure.
  return req.markerText ? `${at}, selected by marker ${req.markerText}` : at;
}

function describe(c: Constraint): string {
  return `${c.specifier || "any version"} (${c.limit ? "constraint at" : "required by"} ${c.by})`;
}

function conflictError(f: Extract<Failure, { kind: "conflict" }>): TugError {
  const wants = f.constraints.map(describe);
  if (f.pin) wants.push(`==${f.pin} (pinned)`);
  const chosen = f.chosen ? `; ${f.name} ${f.chosen} was chosen first` : "";
  const by = [...new Set(f.constraints.map((c) => c.by))];
  // A requirer is a place (requirements.txt:3, a constraint) or a distribution ("b 2.0").
  const places = [...new Set(f.constraints.filter((c) => c.by === c.byName).map((c) => c.by))];
  const dists = [...new Set(f.constraints.filter((c) => c.by !== c.byName).map((c) => c.byName))];
  const fixes = [
    ...(places.length ? [`change the specifier at ${places.join(" or ")}`] : []),
    ...(dists.length ? [`pin a version of ${dists.join(" / ")} whose requirement on ${f.name} agrees`] : []),
    ...(f.pin ? [`update the pinned ${f.name} ${f.pin} (uv.lock or a -c file)`] : []),
  ];
  return new TugError({
    what: `conflicting requirements for ${f.name}: ${wants.join(", ")}${chosen}`,
    where: by.join(", "),
    hint: `no version of ${f.name} satisfies all of them; ${fixes.join(", or ")}`,
  });
}

function failureError(f: Failure): TugError {
  if (f.kind === "error") return f.error;
  if (f.kind === "conflict") return conflictError(f);
  return noCompatibleWheelError(f.info, [...new Set(f.constraints.map((c) => c.by))].join(", "));
}

function hashMismatch(c: Candidate, sha: string, expected: readonly string[], by: string): TugError {
  return new TugError({
    what: `hash mismatch for ${c.file.filename}: its sha256 is ${sha}, expected one of ${expected.join(", ")}`,
    where: by,
    hint: "the index serves different bytes than the pins name (--hash lines, or uv.lock's wheel hashes); update them (pip-compile --generate-hashes, uv lock) or the pinned version",
  });
}

/** The hex digests of a distribution's sha256 pins ("sha256:HEX" or "HEX"); undefined when unpinned. */
function pinnedHexes(expected: readonly string[] | undefined): Set<string> | undefined {
  if (!expected || expected.length === 0) return undefined;
  return new Set(expected.map((h) => h.toLowerCase().replace(/^sha256:/, "")));
}

const MAX_PINNED_SHOWN = 5;

interface HashPinned {
  name: string;
  /** Every file the index lists for the distribution. */
  files: readonly IndexFile[];
  hexes: ReadonlySet<string>;
  expected: readonly string[];
  specifier: string;
  prereleases: boolean;
  target: PythonTarget;
  /** Wheels that fit the target and the specifier but whose hash is not pinned, newest first. */
  unpinned: readonly Candidate[];
  by: string;
}

/**
 * Why no wheel with a pinned hash is a candidate while others would be. A fitting wheel of a
 * version the pins name (or any fitting wheel when no file on the index has a pinned hash at all)
 * is a hash mismatch: the index serves other bytes under that name. Otherwise the pinned wheels
 * are there but do not fit: each is named with the reason.
 */
function hashPinnedError(h: HashPinned): TugError {
  const project = normalizeName(h.name);
  const pinned = h.files.flatMap((file) => {
    if (!file.filename.endsWith(".whl") || file.sha256 === undefined || !h.hexes.has(file.sha256)) return [];
    try {
      const wheel = parseWheelName(file.filename);
      return wheel.normalizedName === project
        ? [{ file, version: clean(wheel.version) ?? wheel.version }]
        : [];
    } catch {
      return [];
    }
  });
  const versions = new Set(pinned.map((p) => p.version));
  const tampered = h.unpinned.find((c) => pinned.length === 0 || versions.has(c.version));
  if (tampered) return hashMismatch(tampered, tampered.file.sha256 ?? "unknown", h.expected, h.by);
  const why = (file: IndexFile): string => {
    const one = candidates({
      name: h.name,
      files: [file],
      target: h.target,
      specifier: h.specifier,
      prereleases: h.prereleases,
    });
    const looked = one.noCompatibleWheel?.looked[0];
    if (!looked) return `not ${h.specifier}`;
    if (looked.reason === "requires-python") return `requires-python ${looked.requiresPython ?? ""}`;
    if (looked.reason === "yanked") return "yanked";
    return `for ${looked.offeredTags.join(", ")}`;
  };
  const shown = pinned.slice(0, MAX_PINNED_SHOWN).map((p) => `${p.file.filename} (${why(p.file)})`);
  const more = pinned.length > shown.length ? `, … ${pinned.length - shown.length} more` : "";
  const t = h.target;
  const fits = h.unpinned[0];
  return new TugError({
    what: `no pinned wheel of ${h.name}${h.specifier ? ` ${h.specifier}` : ""} fits python${t.python[0]}.${t.python[1]} on ${t.machine} (glibc ≤ ${formatGlibc(t.glibc)}, ${t.os}); the pinned wheels on the index: ${shown.join("; ")}${more}`,
    where: h.by,
    hint: `only wheels whose sha256 is pinned (--hash lines, or uv.lock's wheel hashes) are installed${fits ? `, and ${fits.file.filename} is not one of them` : ""}; lock for this runtime and architecture too (uv lock with tool.uv.environments covering it, or pip-compile --generate-hashes on a matching platform)`,
  });
}

/**
 * Resolves the transitive closure of `requirements` for the target: markers are evaluated in the
 * target's environment, only wheels the target can install are candidates (newest first).
 *
 * Strategy: depth-first search over decisions. Distributions are decided in the order they were
 * first required; deciding one picks its newest candidate that satisfies every constraint known so
 * far, adds its Requires-Dist (base plus each requested extra) as constraints, and recurses. A
 * constraint that excludes an already chosen version, or a distribution with no candidate left, is a
 * dead end: the search returns to the latest decision and tries its next candidate (chronological
 * backtracking). State is copied per decision, so undoing is dropping the copy. Attempts are bounded;
 * when every branch fails the first failure met (on the newest-versions path) is reported.
 */
export async function resolve(options: ResolveOptions): Promise<Resolution> {
  const { target, index } = options;
  const env = markerEnvironment(target);
  const metas = new Map<string, Promise<DistMetadata>>();
  let attempts = 0;
  let firstFailure: Failure | undefined;
  const fail = (f: Failure) => {
    firstFailure ??= f;
  };

  const metadataOf = (file: IndexFile): Promise<DistMetadata> => {
    let p = metas.get(file.url);
    if (!p) {
      p = index.metadata(file).then((text) => parseMetadata(text, file.url));
      metas.set(file.url, p);
    }
    return p;
  };

  const state: State = { constraints: new Map(), chosen: new Map() };
  for (const req of options.requirements) {
    if (req.marker && !evaluateMarker(req.marker, { env })) continue;
    const label = rootLabel(req);
    addConstraint(state, req.name, {
      specifier: req.specifier,
      extras: req.extras,
      by: label,
      byName: label,
    });
  }
  const limits = new Map<string, Constraint[]>();
  for (const c of options.constraints ?? []) {
    if (c.specifier === "" || (c.marker && !evaluateMarker(c.marker, { env }))) continue;
    const label = rootLabel(c);
    const limit: Constraint = { specifier: c.specifier, extras: [], by: label, byName: label, limit: true };
    limits.set(c.name, [...(limits.get(c.name) ?? []), limit]);
  }
  const extrasOf = new Map(
    [...(options.extrasOf ?? [])].map(([k, v]) => [normalizeName(k), v.map(normalizeName)]),
  );

  async function search(s: State): Promise<State | undefined> {
    const name = [...s.constraints.keys()].find((n) => !s.chosen.has(n));
    if (name === undefined) return s;
    const required = s.constraints.get(name) ?? [];
    const cons = [...required, ...(limits.get(name) ?? [])];
    const files = await index.projectFiles(name);
    if (files.length === 0) {
      const by = [...new Set(required.map((c) => c.by))].join(", ");
      throw new TugError({
        what: `unknown distribution ${name}: no index has files for it`,
        where: by,
        hint: "check the spelling in the requirement, or add the index that serves it (extra_index_urls)",
      });
    }
    const pin = options.pins?.get(name);
    const specs = [...new Set(cons.map((c) => c.specifier).filter((x) => x !== ""))];
    const specifier = [...specs, ...(pin ? [`==${pin}`] : [])].join(",");
    const prereleases = PRERELEASE.test(specifier);
    const by = [...new Set(cons.map((c) => c.by))].join(", ") || name;
    const expected = options.hashes?.get(name);
    const hexes = pinnedHexes(expected);
    // With hash pins only pinned wheels are candidates; one whose index gives no hash is checked
    // once downloaded, below.
    const pool = hexes ? files.filter((f) => f.sha256 === undefined || hexes.has(f.sha256)) : files;
    const found = candidates({ name, files: pool, target, specifier, prereleases });
    const unpinned =
      hexes && found.noCompatibleWheel
        ? candidates({ name, files, target, specifier, prereleases })
        : undefined;
    if (hexes && expected && unpinned && !unpinned.noCompatibleWheel) {
      const h = { name, files, hexes, expected, specifier, prereleases, target, by };
      fail({ kind: "error", error: hashPinnedError({ ...h, unpinned: unpinned.candidates }) });
      return undefined;
    }
    if (found.noCompatibleWheel) {
      // Without the hash pins nothing would fit either: that is the error to show.
      const info = unpinned?.noCompatibleWheel ?? found.noCompatibleWheel;
      const clash = info.looked.length === 0 && specs.length + (pin ? 1 : 0) > 1;
      if (clash) fail({ kind: "conflict", name, constraints: cons, ...(pin ? { pin } : {}) });
      else fail({ kind: "no-wheel", info, constraints: cons });
      return undefined;
    }
    for (const candidate of found.candidates) {
      if (++attempts > MAX_ATTEMPTS) {
        const last = firstFailure ? ` (first dead end: ${failureError(firstFailure).what})` : "";
        throw new TugError({
          what: `gave up resolving after ${MAX_ATTEMPTS} tries${last}`,
          hint: "narrow the specifiers (or pin the distributions named above) so fewer versions need trying",
        });
      }
      if (hexes && expected && candidate.file.sha256 === undefined) {
        const sha = wheelSha256(await index.wheelPath(candidate.file));
        if (!hexes.has(sha)) {
          fail({ kind: "error", error: hashMismatch(candidate, sha, expected, by) });
          continue;
        }
      }
      const meta = await metadataOf(candidate.file);
      if (meta.requiresPython && validRange(meta.requiresPython)) {
        const py = `${target.python[0]}.${target.python[1]}.0`;
        if (!satisfies(py, meta.requiresPython, { prereleases: true })) continue;
      }
      const next: State = { constraints: new Map(s.constraints), chosen: new Map(s.chosen) };
      next.chosen.set(name, { candidate, meta, expanded: new Set() });
      const failure = expand(next, name, env, extrasOf);
      if (failure) {
        fail(failure);
        continue;
      }
      const done = await search(next);
      if (done) return done;
    }
    return undefined;
  }

  const solved = await search(state);
  if (!solved) throw failureError(firstFailure ?? { kind: "conflict", name: "?", constraints: [] });
  const distributions: ResolvedDistribution[] = [];
  for (const [name, chosen] of solved.chosen) {
    const { candidate } = chosen;
    const cons = solved.constraints.get(name) ?? [];
    // Hash pins were checked while choosing: only pinned wheels were candidates.
    const sha256 = candidate.file.sha256 ?? wheelSha256(await index.wheelPath(candidate.file));
    distributions.push({
      name,
      version: candidate.version,
      wheel: candidate.file.filename,
      sha256,
      url: candidate.file.url,
      requiredBy: [...new Set(cons.map((c) => c.byName))].sort(),
    });
  }
  distributions.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { target, distributions };
}

/** Records a constraint; the arrays are copied so states saved for backtracking stay untouched. */
function addConstraint(s: State, name: string, c: Constraint): void {
  s.constraints.set(name, [...(s.constraints.get(name) ?? []), c]);
}

/**
 * Adds the Requires-Dist of a chosen distribution for the contexts not yet expanded (the base and
 * every extra its constraints request), and of every chosen distribution that gains new extras on
 * the way. Returns the failure when a new constraint excludes a version chosen earlier.
 */
function expand(
  s: State,
  first: string,
  env: MarkerEnvironment,
  extrasOf: ReadonlyMap<string, readonly string[]>,
): Failure | undefined {
  const work = [first];
  while (work.length > 0) {
    const name = work.pop() ?? "";
    const chosen = s.chosen.get(name);
    if (!chosen) continue;
    const requested = (s.constraints.get(name) ?? []).flatMap((c) => c.extras);
    const wanted = new Set(["", ...requested, ...(extrasOf.get(name) ?? [])]);
    const fresh = [...wanted].filter((x) => !chosen.expanded.has(x)).sort();
    if (fresh.length === 0) continue;
    const expanded = new Set([...chosen.expanded, ...fresh]);
    s.chosen.set(name, { ...chosen, expanded });
    const by = `${name} ${chosen.candidate.version}`;
    for (const line of chosen.meta.requiresDist) {
      const dep = parseRequirement(line, `Requires-Dist of ${by}`);
      // A base dependency is evaluated with extra == ""; packaging does the same.
      const applies = fresh.some((extra) => !dep.marker || evaluateMarker(dep.marker, { env, extra }));
      const before = [...chosen.expanded].some(
        (e) => !dep.marker || evaluateMarker(dep.marker, { env, extra: e }),
      );
      if (!applies || before) continue;
      const via = dep.markerText ? `${by}, selected by marker ${dep.markerText}` : by;
      const c: Constraint = { specifier: dep.specifier, extras: dep.extras, by: via, byName: name };
      addConstraint(s, dep.name, c);
      const other = s.chosen.get(dep.name);
      if (!other) continue;
      const version = other.candidate.version;
      if (dep.specifier && !satisfies(version, dep.specifier, { prereleases: true })) {
        return {
          kind: "conflict",
          name: dep.name,
          constraints: s.constraints.get(dep.name) ?? [],
          chosen: version,
        };
      }
      if (dep.extras.some((x) => !other.expanded.has(x))) work.push(dep.name);
    }
  }
  return undefined;
}

/**
 * The requirements one function needs: those whose distribution provides a top-level module the
 * function imports. A requirement only another function uses is left out, so it can never break
 * this function's resolution. `topLevelOf` maps a distribution name to its import names (from its
 * wheel when known, else top-level.ts's guessTopLevel).
 */
export function requirementsFor<R extends Requirement>(
  allRequirements: readonly R[],
  thirdPartyModules: Iterable<string>,
  topLevelOf: (distribution: string) => readonly string[],
): R[] {
  const imported = new Set([...thirdPartyModules].map((m) => m.split(".")[0] ?? m));
  return allRequirements.filter((r) => topLevelOf(r.name).some((m) => imported.has(m.split(".")[0] ?? m)));
}
