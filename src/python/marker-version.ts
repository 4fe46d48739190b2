// The PEP 440 subset that environment markers need: the marker values are final CPython
// releases ("3.12", "3.12.0"), so versions here are release segments with optional pre-,
// post- and dev-releases; epochs and local labels are not versions for this purpose (the
// caller then falls back to string comparison, as packaging does for invalid specifiers).
// Known simplifications, harmless for final-release marker values: `<V` does not exclude
// pre-releases of V and `>V` does not exclude post-releases of V. Requirement specifiers go
// through @renovatebot/pep440 instead.

interface MarkerVersion {
  release: number[];
  pre: readonly [number, number] | undefined; // [a=0|b=1|rc=2, n]
  post: number | undefined;
  dev: number | undefined;
}

const VERSION =
  /^v?(\d+(?:\.\d+)*)(?:[-_.]?(a|alpha|b|beta|c|rc|pre|preview)[-_.]?(\d*))?(?:(?:-(\d+))|(?:[-_.]?(?:post|rev|r)[-_.]?(\d*)))?(?:[-_.]?dev[-_.]?(\d*))?$/i;

function phase(label: string): number {
  const l = label.toLowerCase();
  return l.startsWith("a") ? 0 : l.startsWith("b") ? 1 : 2;
}

export function parseMarkerVersion(text: string): MarkerVersion | undefined {
  const m = VERSION.exec(text.trim());
  if (!m) return undefined;
  const [, release = "", preLabel, preN, postImplicit, postN, devN] = m;
  return {
    release: release.split(".").map(Number),
    pre: preLabel ? [phase(preLabel), Number(preN || 0)] : undefined,
    post:
      postImplicit !== undefined
        ? Number(postImplicit)
        : postN !== undefined
          ? Number(postN || 0)
          : undefined,
    dev: devN !== undefined ? Number(devN || 0) : undefined,
  };
}

function compareRelease(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

// packaging's _cmpkey, without epoch and local: a dev-only release sorts before its pre-releases.
function key(v: MarkerVersion): number[] {
  const pre = v.pre ? [v.pre[0], v.pre[1]] : v.post === undefined && v.dev !== undefined ? [-1, 0] : [3, 0];
  const post = v.post === undefined ? -1 : v.post;
  const dev = v.dev === undefined ? Number.POSITIVE_INFINITY : v.dev;
  return [...pre, post, dev];
}

export function compareMarkerVersions(a: MarkerVersion, b: MarkerVersion): number {
  const r = compareRelease(a.release, b.release);
  if (r !== 0) return r;
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < ka.length; i++) {
    const x = ka[i] ?? 0;
    const y = kb[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1; // not x - y: Infinity - Infinity is NaN
  }
  return 0;
}

/** `==3.*` style prefix match: compare the first n release numbers, padding with zeros. */
function prefixMatch(v: MarkerVersion, prefix: readonly number[]): boolean {
  return prefix.every((n, i) => (v.release[i] ?? 0) === n);
}

/**
 * Whether `value` satisfies the one-clause specifier `op spec` (e.g. ">=", "3.8"). Returns
 * undefined when `op spec` is not a valid specifier or `value` is not a version, so the
 * caller can fall back to string comparison.
 */
export function versionSatisfies(value: string, op: string, spec: string): boolean | undefined {
  if (op === "===") return value === spec;
  const v = parseMarkerVersion(value);
  if (!v) return undefined;
  if ((op === "==" || op === "!=") && /^\s*\d+(\.\d+)*\.\*\s*$/.test(spec)) {
    const prefix = spec.trim().slice(0, -2).split(".").map(Number);
    return prefixMatch(v, prefix) === (op === "==");
  }
  const s = parseMarkerVersion(spec);
  if (!s) return undefined;
  const c = compareMarkerVersions(v, s);
  switch (op) {
    case "==":
      return c === 0;
    case "!=":
      return c !== 0;
    case "<":
      return c < 0;
    case "<=":
      return c <= 0;
    case ">":
      return c > 0;
    case ">=":
      return c >= 0;
    case "~=":
      // ~=X.Y.Z means >=X.Y.Z and ==X.Y.*; needs at least two release numbers.
      if (s.release.length < 2) return undefined;
      return c >= 0 && prefixMatch(v, s.release.slice(0, -1));
    default:
      return undefined;
  }
}
