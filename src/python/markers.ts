import { TugError } from "../errors.ts";
import { versionSatisfies } from "./marker-version.ts";
import { normalizeName } from "./name.ts";
import type { PythonTarget } from "./runtime.ts";

// PEP 508 environment markers: parse once, evaluate for the Lambda target (never the host).

export type MarkerOp = "==" | "!=" | "<" | "<=" | ">" | ">=" | "~=" | "===" | "in" | "not in";

export type MarkerValue = { kind: "var"; name: MarkerVariable } | { kind: "str"; value: string };

export type Marker =
  | { kind: "and" | "or"; left: Marker; right: Marker }
  | { kind: "cmp"; left: MarkerValue; op: MarkerOp; right: MarkerValue };

export interface MarkerEnvironment {
  implementation_name: string;
  implementation_version: string;
  os_name: string;
  platform_machine: string;
  platform_python_implementation: string;
  platform_release: string;
  platform_system: string;
  platform_version: string;
  python_full_version: string;
  python_version: string;
  sys_platform: string;
}

export type MarkerVariable = keyof MarkerEnvironment | "extra";

const VARIABLES: ReadonlyMap<string, MarkerVariable> = new Map<string, MarkerVariable>([
  ...(
    [
      "implementation_name",
      "implementation_version",
      "os_name",
      "platform_machine",
      "platform_python_implementation",
      "platform_release",
      "platform_system",
      "platform_version",
      "python_full_version",
      "python_version",
      "sys_platform",
      "extra",
    ] as const
  ).map((v) => [v, v] as const),
  // Legacy spellings packaging still accepts.
  ["os.name", "os_name"],
  ["sys.platform", "sys_platform"],
  ["platform.version", "platform_version"],
  ["platform.machine", "platform_machine"],
  ["platform.python_implementation", "platform_python_implementation"],
  ["python_implementation", "platform_python_implementation"],
]);

/**
 * The marker environment of a Lambda runtime. python_full_version is the release the runtime
 * runs (runtime.ts's table, or the lambda's python_version); without one (a bare X.Y target)
 * X.Y.0. The kernel release is not knowable at build time, so platform_release and
 * platform_version are empty.
 */
export function markerEnvironment(
  target: Pick<PythonTarget, "python" | "machine"> & { fullVersion?: string },
): MarkerEnvironment {
  const [major, minor] = target.python;
  const full = target.fullVersion ?? `${major}.${minor}.0`;
  return {
    implementation_name: "cpython",
    implementation_version: full,
    os_name: "posix",
    platform_machine: target.machine,
    platform_python_implementation: "CPython",
    platform_release: "",
    platform_system: "Linux",
    platform_version: "",
    python_full_version: full,
    python_version: `${major}.${minor}`,
    sys_platform: "linux",
  };
}

type Token = { t: "str"; v: string } | { t: "word"; v: string } | { t: "op"; v: string } | { t: "(" | ")" };

const TOKEN = /(?:(\()|(\))|'([^']*)'|"([^"]*)"|(===|==|!=|<=|>=|~=|<|>)|([A-Za-z_][A-Za-z0-9_.]*))/;

function syntaxError(text: string, pos: number, why: string): TugError {
  return new TugError({
    what: `invalid environment marker "${text}": ${why} at column ${pos + 1}`,
    hint: `markers look like: python_version >= "3.10" and sys_platform == "linux" (PEP 508)`,
  });
}

function tokenize(text: string): { tokens: Token[]; at: number[] } {
  const tokens: Token[] = [];
  const at: number[] = [];
  const re = new RegExp(TOKEN.source, "y");
  let pos = 0;
  for (;;) {
    while (pos < text.length && /\s/.test(text.charAt(pos))) pos++;
    if (pos >= text.length) break;
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw syntaxError(text, pos, "unexpected character");
    at.push(pos);
    pos = re.lastIndex;
    if (m[1]) tokens.push({ t: "(" });
    else if (m[2]) tokens.push({ t: ")" });
    else if (m[3] !== undefined || m[4] !== undefined) tokens.push({ t: "str", v: m[3] ?? m[4] ?? "" });
    else if (m[5]) tokens.push({ t: "op", v: m[5] });
    else tokens.push({ t: "word", v: m[6] ?? "" });
  }
  at.push(text.length);
  return { tokens, at };
}

/** Parses a PEP 508 marker expression; throws a TugError naming the column on bad syntax. */
export function parseMarker(text: string): Marker {
  const { tokens, at } = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const fail = (why: string) => syntaxError(text, at[i] ?? text.length, why);
  const isWord = (w: string) => {
    const tok = peek();
    return tok?.t === "word" && tok.v === w;
  };

  const value = (): MarkerValue => {
    const tok = peek();
    if (tok?.t === "str") {
      i++;
      return { kind: "str", value: tok.v };
    }
    if (tok?.t === "word") {
      const name = VARIABLES.get(tok.v);
      if (!name) throw fail(`unknown marker variable "${tok.v}"`);
      i++;
      return { kind: "var", name };
    }
    throw fail("expected a marker variable or a quoted string");
  };

  const op = (): MarkerOp => {
    const tok = peek();
    if (tok?.t === "op") {
      i++;
      return tok.v as MarkerOp;
    }
    if (isWord("in")) {
      i++;
      return "in";
    }
    if (isWord("not")) {
      i++;
      if (!isWord("in")) throw fail('expected "in" after "not"');
      i++;
      return "not in";
    }
    throw fail("expected a comparison operator");
  };

  const atom = (): Marker => {
    if (peek()?.t === "(") {
      i++;
      const inner = or();
      if (peek()?.t !== ")") throw fail('expected ")"');
      i++;
      return inner;
    }
    const left = value();
    const o = op();
    const right = value();
    if (left.kind === "var" && right.kind === "var") throw fail("cannot compare two marker variables");
    if (left.kind === "str" && right.kind === "str") throw fail("a marker must compare a variable");
    return { kind: "cmp", left, op: o, right };
  };

  const chain = (kind: "and" | "or", next: () => Marker) => (): Marker => {
    let left = next();
    while (isWord(kind)) {
      i++;
      left = { kind, left, right: next() };
    }
    return left;
  };
  const and = chain("and", atom);
  const or = chain("or", and);

  const result = or();
  if (i < tokens.length) throw fail("unexpected text");
  return result;
}

function compareStrings(lhs: string, op: MarkerOp, rhs: string): boolean {
  switch (op) {
    case "in":
      return rhs.includes(lhs);
    case "not in":
      return !rhs.includes(lhs);
    case "==":
    case "===":
      return lhs === rhs;
    case "!=":
      return lhs !== rhs;
    case "<":
      return lhs < rhs;
    case "<=":
      return lhs <= rhs;
    case ">":
      return lhs > rhs;
    case ">=":
      return lhs >= rhs;
    case "~=":
      return false;
  }
}

/** Context for evaluation: the target's environment and the extra being installed, if any. */
export interface MarkerContext {
  env: MarkerEnvironment;
  extra?: string;
}

function resolve(v: MarkerValue, ctx: MarkerContext): string {
  if (v.kind === "str") return v.value;
  if (v.name === "extra") return ctx.extra ?? "";
  return ctx.env[v.name];
}

/**
 * Evaluates a marker like packaging.markers: a comparison is a PEP 440 version comparison
 * when the right side makes a valid specifier and the left side is a version, else a string
 * comparison. `extra` compares PEP 503-normalised names. `~=` between non-versions is false
 * (packaging raises UndefinedComparison there).
 */
export function evaluateMarker(marker: Marker | string, ctx: MarkerContext): boolean {
  const m = typeof marker === "string" ? parseMarker(marker) : marker;
  if (m.kind !== "cmp") {
    const left = evaluateMarker(m.left, ctx);
    return m.kind === "and" ? left && evaluateMarker(m.right, ctx) : left || evaluateMarker(m.right, ctx);
  }
  let lhs = resolve(m.left, ctx);
  let rhs = resolve(m.right, ctx);
  const isExtra = (v: MarkerValue) => v.kind === "var" && v.name === "extra";
  if (isExtra(m.left) || isExtra(m.right)) {
    lhs = normalizeName(lhs);
    rhs = normalizeName(rhs);
  }
  if (m.op !== "in" && m.op !== "not in") {
    const byVersion = versionSatisfies(lhs, m.op, rhs);
    if (byVersion !== undefined) return byVersion;
  }
  return compareStrings(lhs, m.op, rhs);
}
