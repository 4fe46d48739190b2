import type { Ignore } from "ignore";

type GitMatcherFactory = typeof import("ignore");
type DockerMatcherFactory = typeof import("@balena/dockerignore")["default"];
let gitMatcher: GitMatcherFactory | undefined;
let dockerMatcherFactory: DockerMatcherFactory | undefined;

/**
 * Imports the matcher libraries (~10 ms of a CLI start); only contexts that have ignore rules
 * pay for it. Call before building ContextRules from text or adding a .gitignore.
 */
export async function loadMatchers(): Promise<void> {
  gitMatcher ??= (await import("ignore")).default;
  // A CommonJS module whose typings declare an ES default export; it also sets `.default` itself.
  dockerMatcherFactory ??= (await import("@balena/dockerignore")).default.default;
}

function ignore(): Ignore {
  if (!gitMatcher) throw new Error("ignore rules used before loadMatchers()");
  return gitMatcher();
}

function dockerignore(opts: { ignorecase: boolean }): ReturnType<DockerMatcherFactory> {
  if (!dockerMatcherFactory) throw new Error("ignore rules used before loadMatchers()");
  return dockerMatcherFactory(opts);
}

/**
 * Which files of a context are inputs. Three layers, each overriding the one before it where
 * one of its rules matches (as a later line overrides an earlier one inside one file):
 * 1. `.gitignore` files (git's semantics): those of the enclosing repository between its root and
 *    the context, then the context's own and nested ones, deeper files winning;
 * 2. `.dockerignore` at the context root (Docker's semantics: `**`, `!` exceptions, the last
 *    matching line wins, a rule naming a directory covers everything under it);
 * 3. `.tugignore` at the context root, then `ignore.patterns` from tug.yaml (gitignore syntax).
 * So a `!dist` in .dockerignore ships a dist/ that .gitignore leaves out, as `docker build` does.
 * This module is pure: the caller reads the files (src/engine/ignore-files.ts).
 */

/** The rule that decided a path's fate: the file (relative to the context) and its 1-based line. */
export interface RuleOrigin {
  source: string;
  line: number;
  pattern: string;
}

export interface PathVerdict {
  excluded: boolean;
  /** Undefined when no rule matched (the path is kept by default). */
  by?: RuleOrigin;
  /** Set when the path is left out because a directory above it is (and is never descended). */
  under?: string;
}

/** tug.yaml `ignore:` normalised. */
export interface IgnoreSettings {
  /** Honour .gitignore files (default true). */
  git: boolean;
  /** Extra gitignore-syntax patterns, relative to the context. */
  patterns: string[];
}

export const DEFAULT_IGNORE: IgnoreSettings = { git: true, patterns: [] };
/** The command builder's default: its command reads the host context, git-ignored files too. */
export const COMMAND_IGNORE: IgnoreSettings = { git: false, patterns: [] };

/** Ignore files whose edit changes the set of inputs: the dev loop always reacts to them. */
export const IGNORE_FILE_NAMES = new Set([".gitignore", ".dockerignore", ".tugignore"]);

/** An ignore file's text and where it sits relative to the context. */
export interface IgnoreFileText {
  /** For messages: the file's path relative to the context (`../.gitignore` above it). */
  source: string;
  text: string;
}

export interface GitignoreAbove extends IgnoreFileText {
  /** Path from that file's directory down to the context, with a trailing '/' (e.g. `services/web/`). */
  prefix: string;
}

interface GitLayer {
  source: string;
  /** Nested: the directory inside the context ('' = the context); above: undefined. */
  dir?: string;
  prefix: string;
  text: string;
  rules: Ignore;
  negations: Negation[];
}

type DockerMatcher = ReturnType<DockerMatcherFactory>;

interface DockerRule extends RuleOrigin {
  negative: boolean;
  /** The line without `!`. */
  body: string;
  /** This one line as an exclusion, made when an explanation needs to know which line matched. */
  matcher?: DockerMatcher;
}

/**
 * One library matcher per question, not per line: ten per-line matchers cost ~20 µs a path,
 * the whole file ~2 µs, and a scan asks for every file of the context.
 */
interface DockerLayer {
  /** Docker's verdict: the whole file. */
  all: DockerMatcher;
  /** Every line as an exclusion: does any line match at all (to override a .gitignore)? */
  anyLine: DockerMatcher;
  rules: DockerRule[];
}

interface Negation extends RuleOrigin {
  /** The pattern without `!` and a leading '/', for Docker's "descend into an excluded dir" test. */
  body: string;
  matcher: Ignore;
}

interface Line {
  line: number;
  text: string;
}

function lines(text: string): Line[] {
  return text
    .split(/\r?\n/)
    .map((raw, i) => ({ line: i + 1, text: raw }))
    .filter((l) => l.text.trim() !== "" && !l.text.trim().startsWith("#"));
}

/** gitignore syntax with the line number as each rule's mark, so a match names its line. */
function gitRules(text: string, source: string): { rules: Ignore; negations: Negation[] } {
  const ls = lines(text);
  const rules = ignore().add(ls.map((l) => ({ pattern: l.text, mark: String(l.line) })));
  const negations = ls
    .filter((l) => l.text.startsWith("!") && l.text.length > 1)
    .map((l) => {
      const body = l.text.slice(1).trim();
      return {
        source,
        line: l.line,
        pattern: l.text.trim(),
        body: body.replace(/^\/+/, "").replace(/\/+$/, ""),
        matcher: ignore().add(body),
      };
    });
  return { rules, negations };
}

// Docker matches case-sensitively on Linux; the library's default is to ignore case.
const dockerMatcher = (patterns: string[]) => dockerignore({ ignorecase: false }).add(patterns);

function dockerLayer(text: string, source: string): DockerLayer {
  const rules = dockerRules(text, source);
  return {
    all: dockerMatcher(rules.map((r) => r.pattern)),
    anyLine: dockerMatcher(rules.map((r) => r.body)),
    rules,
  };
}

/** The last line that matches decides, as in moby's patternmatcher. */
function lastDockerLine(d: DockerLayer, path: string): RuleOrigin | undefined {
  let last: DockerRule | undefined;
  for (const r of d.rules) {
    r.matcher ??= dockerMatcher([r.body]);
    if (r.matcher.ignores(path)) last = r;
  }
  return last;
}

function dockerRules(text: string, source: string): DockerRule[] {
  const out: DockerRule[] = [];
  for (const l of lines(text)) {
    const trimmed = l.text.trim();
    const negative = trimmed.startsWith("!");
    const body = negative ? trimmed.slice(1).trim() : trimmed;
    if (body === "") continue;
    out.push({
      source,
      line: l.line,
      pattern: trimmed,
      negative,
      body,
    });
  }
  return out;
}

/** Docker's cleaned form of an exception pattern: no `!`, no leading '/', no trailing '/'. */
function dockerBody(r: DockerRule): string {
  return r.body.replace(/^\/+/, "").replace(/\/+$/, "").replace(/^\.\//, "");
}

export interface ContextRulesInput {
  /** false: .gitignore files are not read (`ignore: {git: false}`). Default true. */
  git?: boolean;
  dockerignore?: IgnoreFileText;
  tugignore?: IgnoreFileText;
  /** Patterns from tug.yaml, reported as `ignore.patterns` line N. */
  patterns?: string[];
  /** .gitignore files above the context, outermost first; empty when `git: false`. */
  above?: GitignoreAbove[];
}

export class ContextRules {
  private readonly git: GitLayer[] = [];
  private readonly docker: DockerLayer | undefined;
  private readonly tug: Array<{ source: string; rules: Ignore; negations: Negation[] }> = [];

  private readonly gitEnabled: boolean;

  constructor(input: ContextRulesInput) {
    this.gitEnabled = input.git ?? true;
    for (const a of this.gitEnabled ? (input.above ?? []) : []) {
      const layer = { ...a, ...gitRules(a.text, a.source) };
      // A context that its repository ignores (a build output used as a `files` context): the
      // user chose it explicitly, so that file's rules would exclude everything; they do not apply.
      if (!ignoresContext(layer.rules, a.prefix)) this.git.push(layer);
    }
    this.docker = input.dockerignore
      ? dockerLayer(input.dockerignore.text, input.dockerignore.source)
      : undefined;
    if (input.tugignore)
      this.tug.push({
        source: input.tugignore.source,
        ...gitRules(input.tugignore.text, input.tugignore.source),
      });
    if (input.patterns?.length)
      this.tug.push({ source: "ignore.patterns", ...gitRules(input.patterns.join("\n"), "ignore.patterns") });
  }

  /** Adds (or replaces) the .gitignore of a directory inside the context ('' = the context). */
  setGitignore(dir: string, text: string | undefined): void {
    if (!this.gitEnabled) return;
    const i = this.git.findIndex((g) => g.dir === dir);
    if (i >= 0 && this.git[i]!.text === text) return;
    if (i >= 0) this.git.splice(i, 1);
    if (text === undefined) return;
    const source = dir === "" ? ".gitignore" : `${dir}/.gitignore`;
    this.git.push({ source, dir, prefix: "", text, ...gitRules(text, source) });
    // Outer files first: a deeper .gitignore overrides its parents, as in git.
    this.git.sort((a, b) => depth(a) - depth(b));
  }

  /**
   * The verdict of the path's own rules, ignoring whether a directory above it is skipped.
   * Without `why` (scans, the watcher) only `excluded` is computed, not which line decided.
   */
  verdict(path: string, isDir: boolean, why = true): PathVerdict {
    let v: PathVerdict = { excluded: false };
    for (const g of this.git) {
      let rel: string;
      if (g.dir === undefined) rel = g.prefix + path;
      else if (g.dir === "") rel = path;
      else if (path.startsWith(`${g.dir}/`)) rel = path.slice(g.dir.length + 1);
      else continue;
      const r = g.rules.test(isDir ? `${rel}/` : rel);
      if (r.ignored) v = { excluded: true, by: origin(g.source, r.rule) };
      else if (r.unignored)
        v = { excluded: false, by: why ? negationFor(g.negations, rel, isDir) : undefined };
    }
    const d = this.docker;
    if (d?.all.ignores(path)) v = { excluded: true, by: why ? lastDockerLine(d, path) : undefined };
    else if (d && (v.excluded || why) && d.anyLine.ignores(path))
      v = { excluded: false, by: why ? lastDockerLine(d, path) : undefined };
    for (const t of this.tug) {
      const r = t.rules.test(isDir ? `${path}/` : path);
      if (r.ignored) v = { excluded: true, by: origin(t.source, r.rule) };
      else if (r.unignored)
        v = { excluded: false, by: why ? negationFor(t.negations, path, isDir) : undefined };
      else if (v.excluded || why) {
        // `!generated/` re-includes what is under it too, as a Docker exception does: the
        // escape hatch from a .gitignore rule must not need `!generated/**`.
        const opened = reincludedDir(t, path);
        if (opened) v = { excluded: false, by: opened };
      }
    }
    return v.by ? { excluded: v.excluded, by: strip(v.by) } : { excluded: v.excluded };
  }

  /**
   * Whether an excluded directory can be skipped without reading it. Docker's rule
   * (moby/patternmatcher, used by `docker build` and buildah): only an exception whose pattern
   * starts with `dir/` can re-include something under an excluded `dir`; `!**\/keep` cannot.
   * git never re-includes under an excluded directory; .tugignore follows Docker's rule here.
   */
  canSkip(dir: string): boolean {
    const dirSlash = `${dir}/`;
    const opens = (body: string) => `${body}/`.startsWith(dirSlash);
    if (this.docker?.rules.some((r) => r.negative && opens(dockerBody(r)))) return false;
    return !this.tug.some((t) => t.negations.some((n) => opens(n.body)));
  }

  /** The full answer for one path: its own verdict, or the skipped directory above it. */
  explain(path: string, isDir: boolean, why = true): PathVerdict {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      const v = this.verdict(dir, true, why);
      if (v.excluded && this.canSkip(dir)) return { ...v, under: dir };
    }
    return this.verdict(path, isDir, why);
  }

  /** For the dev watcher: is a changed path outside the inputs? */
  excludes(path: string, isDir: boolean): boolean {
    return this.explain(path, isDir, false).excluded;
  }
}

function ignoresContext(rules: Ignore, prefix: string): boolean {
  const parts = prefix.split("/").filter(Boolean);
  return parts.some((_, i) => rules.ignores(`${parts.slice(0, i + 1).join("/")}/`));
}

function reincludedDir(t: { rules: Ignore; negations: Negation[] }, path: string): RuleOrigin | undefined {
  if (t.negations.length === 0) return undefined;
  const parts = path.split("/");
  for (let i = parts.length - 1; i > 0; i--) {
    const dir = parts.slice(0, i).join("/");
    const r = t.rules.test(`${dir}/`);
    if (r.ignored) return undefined;
    if (r.unignored) return negationFor(t.negations, dir, true);
  }
  return undefined;
}

function depth(g: GitLayer): number {
  return g.dir === undefined ? -1 : g.dir === "" ? 0 : g.dir.split("/").length;
}

function origin(
  source: string,
  rule: { pattern: string; mark?: string | undefined } | undefined,
): RuleOrigin {
  return { source, line: Number(rule?.mark ?? 0), pattern: rule?.pattern ?? "" };
}

/** The `ignore` library does not say which negation matched; the last one that does decides. */
function negationFor(negations: Negation[], rel: string, isDir: boolean): RuleOrigin | undefined {
  const path = isDir ? `${rel}/` : rel;
  return negations.filter((n) => n.matcher.ignores(path)).at(-1);
}

function strip(o: RuleOrigin): RuleOrigin {
  return { source: o.source, line: o.line, pattern: o.pattern };
}

/** `src/.gitignore:3 (secrets/**)` for messages. */
export function describeOrigin(o: RuleOrigin): string {
  return `${o.source}:${o.line} (${o.pattern})`;
}
