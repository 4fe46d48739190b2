/**
 * A conservative reading of Go build constraints (go/build's file-name rules and `//go:build`
 * lines): `excluded` is true only when a file is certainly left out for the platform and tags
 * whatever else is set, so a caller may skip asking `go list` about it. Anything this does not
 * know (a custom tag, a goexperiment, an old `// +build` line alone) counts as maybe built.
 */

const KNOWN_OS = new Set(
  "aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris wasip1 windows zos".split(
    " ",
  ),
);
const KNOWN_ARCH = new Set(
  "386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm".split(
    " ",
  ),
);
const UNIX = new Set(
  "aix android darwin dragonfly freebsd hurd illumos ios linux netbsd openbsd solaris".split(" "),
);
/** GOOS values that also satisfy another OS's tag and file suffix (go/build's matchTag). */
const ALSO: Record<string, string> = { android: "linux", illumos: "solaris", ios: "darwin" };

export interface ConstraintContext {
  goos: string;
  goarch: string;
  /** Tags set on top of the platform's (build_tags, "cgo"). */
  tags: string[];
  /** The Go release's minor version (go1.N tags up to N are set); undefined: unknown. */
  goMinor?: number;
}

type Tri = boolean | undefined;

function tagValue(tag: string, ctx: ConstraintContext): Tri {
  if (tag === ctx.goos || tag === ctx.goarch || ALSO[ctx.goos] === tag || ctx.tags.includes(tag)) return true;
  if (tag === "unix") return UNIX.has(ctx.goos);
  if (KNOWN_OS.has(tag) || KNOWN_ARCH.has(tag) || tag === "ignore") return false;
  const m = /^go1\.(\d+)$/.exec(tag);
  if (m && ctx.goMinor !== undefined) return Number(m[1]) <= ctx.goMinor;
  return undefined;
}

/** Three-valued `||`, `&&`, `!` over a `//go:build` expression; undefined when unknown or malformed. */
export function evalBuildExpr(expr: string, ctx: ConstraintContext): Tri {
  const tokens = expr.match(/&&|\|\||[()!]|[A-Za-z0-9_.]+|\S/g) ?? [];
  let i = 0;
  const or = (): Tri => {
    let v = and();
    while (tokens[i] === "||") {
      i++;
      const r = and();
      v = v === true || r === true ? true : v === false && r === false ? false : undefined;
    }
    return v;
  };
  const and = (): Tri => {
    let v = not();
    while (tokens[i] === "&&") {
      i++;
      const r = not();
      v = v === false || r === false ? false : v === true && r === true ? true : undefined;
    }
    return v;
  };
  const not = (): Tri => {
    if (tokens[i] === "!") {
      i++;
      const v = not();
      return v === undefined ? undefined : !v;
    }
    if (tokens[i] === "(") {
      i++;
      const v = or();
      if (tokens[i++] !== ")") throw new Error("unbalanced");
      return v;
    }
    const t = tokens[i++];
    if (t === undefined || !/^[A-Za-z0-9_.]+$/.test(t)) throw new Error("bad token");
    return tagValue(t, ctx);
  };
  try {
    const v = or();
    return i === tokens.length ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a file name's `_GOOS`, `_GOARCH` or `_GOOS_GOARCH` suffix rules it out (go/build.goodOSArchFile). */
function nameExcludes(name: string, ctx: ConstraintContext): boolean {
  const stem = name.split(".")[0] ?? "";
  const parts = stem.split("_").slice(1);
  if (parts.at(-1) === "test") parts.pop();
  const os = (t: string) => t === ctx.goos || ALSO[ctx.goos] === t;
  const [a, b] = parts.slice(-2);
  if (parts.length >= 2 && a !== undefined && b !== undefined && KNOWN_OS.has(a) && KNOWN_ARCH.has(b))
    return !(os(a) && b === ctx.goarch);
  const last = parts.at(-1);
  if (last === undefined) return false;
  if (KNOWN_OS.has(last)) return !os(last);
  if (KNOWN_ARCH.has(last)) return last !== ctx.goarch;
  return false;
}

/** True only when the file is certainly not built for `ctx` (by its name or its `//go:build` line). */
export function certainlyExcluded(name: string, text: string, ctx: ConstraintContext): boolean {
  if (nameExcludes(name, ctx)) return true;
  for (const line of text.split("\n")) {
    const l = line.trim();
    if (l.startsWith("package ")) break;
    const m = /^\/\/go:build\s+(.*)$/.exec(l);
    if (m?.[1] !== undefined) return evalBuildExpr(m[1], ctx) === false;
  }
  return false;
}
