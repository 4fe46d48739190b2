import { spawn } from "node:child_process";
import { TugError } from "../errors.ts";
import { knownInterpreter, rememberInterpreter } from "./interpreter-memo.ts";

/** One first-party file to check: its bytes, their sha256 and the name messages use. */
export interface SourceToCheck {
  shown: string;
  data: Buffer;
  sha256: string;
}

/** Where a file fails to compile; undefined entries compiled. */
export interface SyntaxProblem {
  line: number;
  column: number;
  message: string;
}

/** The verdict record: per content hash and target minor, so an unchanged file is never compiled again. */
interface Verdict {
  problem: SyntaxProblem | null;
  /** The interpreter that judged it, "3.11.7". */
  judge: string;
}

/** Just what the check needs of the cache store. */
export interface VerdictStore {
  getRecord<T>(kind: string, key: string, check?: (v: unknown) => v is T): Promise<T | undefined>;
  putRecord<T>(kind: string, key: string, value: T): Promise<void>;
}

const RECORD = "python-syntax";

// compile() finds what the grammar and the compiler refuse ('return' outside a function, …) as
// the judging interpreter sees it; ast.parse with feature_version also refuses syntax newer than
// the target's Python (a `type X = …` alias for python3.11 checked by a 3.12 interpreter), so it
// runs only when the judge is newer than the target. Bytes, not text: a `# -*- coding: … -*-`
// cookie is honoured as on Lambda. Nothing else is imported (ast, json and base64 are ~30 ms of
// an edit's ~60 ms check here): the files come framed on stdin, the verdicts go out one per line.
const SCRIPT = `
import sys, warnings
warnings.simplefilter("ignore")
inp = sys.stdin.buffer
minor = int(inp.readline())
newer = sys.version_info[1] > minor
if newer:
    import ast
out = ["%d.%d.%d" % sys.version_info[:3], sys.executable or ""]
one = lambda m: " ".join(str(m).split())
while True:
    head = inp.readline()
    if not head:
        break
    n, d = map(int, head.split())
    name = inp.read(n).decode("utf-8", "replace")
    src = inp.read(d)
    try:
        compile(src, name, "exec", dont_inherit=True)
        if newer:
            ast.parse(src, name, feature_version=(3, minor))
        out.append("ok")
    except SyntaxError as e:
        out.append("error %d %d %s" % (e.lineno or 0, e.offset or 0, one(e.msg)))
    except ValueError as e:
        out.append("error 0 0 %s" % one(e))
sys.stdout.buffer.write(("\\n".join(out) + "\\n").encode("utf-8", "backslashreplace"))
`;

interface Judged {
  version: string;
  /** The interpreter's own path: what a `python3.X` wrapper (a pyenv shim) ran in the end. */
  executable?: string;
  results: (SyntaxProblem | null)[];
}

/** The request: the target minor, then each file as "NAME_BYTES DATA_BYTES", its name and data. */
function request(minor: number, files: readonly SourceToCheck[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`${minor}\n`)];
  for (const f of files) {
    const name = Buffer.from(f.shown, "utf8");
    parts.push(Buffer.from(`${name.length} ${f.data.length}\n`), name, f.data);
  }
  return Buffer.concat(parts);
}

/** The script's answer: version, executable, then "ok" or "error LINE COLUMN MESSAGE" per file. */
function parseJudged(text: string): Judged | undefined {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const [version, executable, ...rest] = lines;
  if (!version || !/^\d+\.\d+\.\d+$/.test(version) || executable === undefined) return undefined;
  const results: (SyntaxProblem | null)[] = [];
  for (const line of rest) {
    if (line === "ok") {
      results.push(null);
      continue;
    }
    const m = /^error (\d+) (\d+) (.*)$/.exec(line);
    if (!m) return undefined;
    results.push({ line: Number(m[1]), column: Number(m[2]), message: m[3] as string });
  }
  return { version, ...(executable ? { executable } : {}), results };
}

function runPython(command: string, input: Buffer): Promise<Judged | undefined> {
  return new Promise((resolve) => {
    const child = spawn(command, ["-I", "-S", "-c", SCRIPT], { stdio: ["pipe", "pipe", "ignore"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.on("error", () => resolve(undefined));
    child.on("close", (code) => {
      if (code !== 0) return resolve(undefined);
      resolve(parseJudged(Buffer.concat(chunks).toString("utf8")));
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
  });
}

const isVerdict = (v: unknown): v is Verdict =>
  typeof v === "object" && v !== null && "problem" in v && typeof (v as Verdict).judge === "string";

/**
 * Compiles first-party files for the target Python (3.`minor`) and throws a TugError naming the
 * first one that does not compile, with file:line. Verdicts are cached per content sha256, so a
 * build where no file changed starts no interpreter, and an edit starts one for all changed files.
 * The runtime's own python3.X judges when it runs here; else python3, with a warning when it is
 * older than the target (it may refuse newer syntax that the runtime accepts: then the problem is
 * a warning, not an error). Without any python3 the check is skipped with a warning.
 */
export async function checkSyntax(
  files: readonly SourceToCheck[],
  minor: number,
  store: VerdictStore | undefined,
): Promise<{ warnings: string[] }> {
  const key = (f: SourceToCheck) => `${f.sha256}-py3.${minor}`;
  const todo: SourceToCheck[] = [];
  const problems: { file: SourceToCheck; problem: SyntaxProblem; judge: string }[] = [];
  for (const f of files) {
    const verdict = await store?.getRecord(RECORD, key(f), isVerdict);
    if (!verdict) todo.push(f);
    else if (verdict.problem) problems.push({ file: f, problem: verdict.problem, judge: verdict.judge });
  }
  const warnings: string[] = [];
  if (todo.length > 0) {
    const input = request(minor, todo);
    const exact = `python3.${minor}`;
    // A version manager's shim (pyenv: ~0.3 s a start) is resolved once and remembered.
    const known = await knownInterpreter(store, exact);
    let judged = known ? await runPython(known, input) : undefined;
    if (!judged?.version.startsWith(`3.${minor}.`)) {
      judged = await runPython(exact, input);
      if (judged?.version.startsWith(`3.${minor}.`) && judged.executable)
        await rememberInterpreter(store, exact, judged.executable);
    }
    if (!judged?.version.startsWith(`3.${minor}.`)) judged = await runPython("python3", input);
    if (!judged || judged.results.length !== todo.length) {
      return { warnings: [`no python3 ran here: first-party files were not compiled for syntax errors`] };
    }
    const [, hostMinor = 0] = judged.version.split(".").map(Number);
    const older = hostMinor < minor;
    for (const [i, f] of todo.entries()) {
      const problem = judged.results[i] ?? null;
      if (problem && older) {
        warnings.push(
          `${f.shown}:${problem.line}: ${problem.message} (python3.${minor} is not on PATH and python3 here is ${judged.version}, older than the runtime: this may be valid Python 3.${minor})`,
        );
        continue;
      }
      // Only a verdict of an interpreter at least as new as the target is kept.
      await store?.putRecord<Verdict>(RECORD, key(f), { problem, judge: judged.version });
      if (problem) problems.push({ file: f, problem, judge: judged.version });
    }
  }
  const first = problems[0];
  if (first) {
    const { file, problem, judge } = first;
    const at = `${file.shown}:${problem.line}${problem.column ? `:${problem.column}` : ""}`;
    throw new TugError({
      what: `syntax error in ${at}: ${problem.message}${problems.length > 1 ? ` (and ${problems.length - 1} more file${problems.length > 2 ? "s" : ""})` : ""}`,
      where: `${file.shown}:${problem.line}`,
      hint: `the function's code must compile for Python 3.${minor} (checked with Python ${judge}); fix the line, or change the runtime`,
    });
  }
  return { warnings };
}
