import { type GlibcVersion, type Machine, type PythonTarget, parseRuntime } from "./runtime.ts";

// PEP 425 compatibility tags for a Lambda target, in the priority order pip uses on that
// machine. Mirrors packaging.tags (cpython_tags, compatible_tags, _py_interpreter_range) and
// packaging._manylinux.platform_tags, with the glibc taken from the runtime, not the host.
// compatible_tags is given interpreter cpXY as pip's get_supported() does (and sys_tags in
// packaging ≥ 22), so cpXY-none-any is included. musllinux is never produced: Lambda is glibc.

// PEP 513 / 571 / 599 names for glibc 2.5 / 2.12 / 2.17.
const LEGACY_MANYLINUX: ReadonlyMap<number, string> = new Map([
  [17, "manylinux2014"],
  [12, "manylinux2010"],
  [5, "manylinux1"],
]);

/**
 * manylinux platform tags from the glibc ceiling down, each legacy alias right after its
 * manylinux_2_N twin. packaging stops at 2.17 except on x86_64/i686, which go down to 2.5.
 */
export function manylinuxPlatforms(machine: Machine, glibc: GlibcVersion): string[] {
  if (glibc.major !== 2) throw new Error(`glibc ${glibc.major}.${glibc.minor}: only glibc 2.x is known`);
  const oldest = machine === "x86_64" ? 5 : 17;
  const out: string[] = [];
  for (let minor = glibc.minor; minor >= oldest; minor--) {
    out.push(`manylinux_2_${minor}_${machine}`);
    const legacy = LEGACY_MANYLINUX.get(minor);
    if (legacy) out.push(`${legacy}_${machine}`);
  }
  return out;
}

/** Every platform tag a wheel may carry to run on the target, best first. */
export function platformTags(target: Pick<PythonTarget, "machine" | "glibc">): string[] {
  return [...manylinuxPlatforms(target.machine, target.glibc), `linux_${target.machine}`];
}

/** packaging's _py_interpreter_range: pyXY, py3, then py3(Y-1) … py30. */
function pyInterpreterRange(minor: number): string[] {
  const out = [`py3${minor}`, "py3"];
  for (let m = minor - 1; m >= 0; m--) out.push(`py3${m}`);
  return out;
}

/** The full tag list for a target, in priority order (index 0 is the best match). */
export function tagsFor(target: Pick<PythonTarget, "python" | "machine" | "glibc">): string[] {
  const [major, minor] = target.python;
  if (major !== 3) throw new Error(`python ${major}.${minor}: only CPython 3 is known`);
  const cp = `cp3${minor}`;
  const plats = platformTags(target);
  const out: string[] = [];
  const each = (interp: string, abi: string) => {
    for (const p of plats) out.push(`${interp}-${abi}-${p}`);
  };
  // cpython_tags
  each(cp, cp);
  each(cp, "abi3");
  each(cp, "none");
  // Stable ABI (PEP 384) wheels for older 3.x still load, down to 3.2 where abi3 began.
  for (let m = minor - 1; m >= 2; m--) each(`cp3${m}`, "abi3");
  // compatible_tags
  const range = pyInterpreterRange(minor);
  for (const py of range) each(py, "none");
  out.push(`${cp}-none-any`);
  for (const py of range) out.push(`${py}-none-any`);
  return out;
}

/**
 * The tag list for a Lambda runtime name and architecture, optionally with a glibc override
 * ("2.28"). Unknown names throw a TugError.
 */
export function targetTags(runtime: string, arch: string, glibc?: string | GlibcVersion): string[] {
  return tagsFor(parseRuntime(runtime, { arch, glibc }));
}

/** tag → priority index, for matching wheels against a tag list. */
export type TagPriority = ReadonlyMap<string, number>;

export function tagPriority(tags: readonly string[]): TagPriority {
  const map = new Map<string, number>();
  tags.forEach((t, i) => {
    if (!map.has(t)) map.set(t, i);
  });
  return map;
}
