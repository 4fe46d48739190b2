import { TugError } from "../errors.ts";
import { knownInterpreter, rememberInterpreter } from "./interpreter-memo.ts";
import { judge, warmJudge } from "./syntax-judge.ts";

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

/**
 * Starts the interpreter checkSyntax will ask first (the remembered python3.`minor`, else that
 * command), before the files are known: its start-up then overlaps reading and parsing them.
 */
export async function warmSyntaxCheck(minor: number, store: VerdictStore | undefined): Promise<void> {
  const exact = `python3.${minor}`;
  warmJudge((await knownInterpreter(store, exact)) ?? exact);
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
  opts: { resident?: boolean } = {},
): Promise<{ warnings: string[] }> {
  const key = (f: SourceToCheck) => `${f.sha256}-py3.${minor}`;
  const todo: SourceToCheck[] = [];
  const problems: { file: SourceToCheck; problem: SyntaxProblem; judge: string }[] = [];
  const verdicts = await Promise.all(files.map((f) => store?.getRecord(RECORD, key(f), isVerdict)));
  for (const [i, f] of files.entries()) {
    const verdict = verdicts[i];
    if (!verdict) todo.push(f);
    else if (verdict.problem) problems.push({ file: f, problem: verdict.problem, judge: verdict.judge });
  }
  const warnings: string[] = [];
  if (todo.length > 0) {
    // A resident process (tug dev, tug server) keeps the interpreter running between edits.
    const runPython = (command: string) => judge(command, minor, todo, opts.resident === true);
    const exact = `python3.${minor}`;
    // A version manager's shim (pyenv: ~0.3 s a start) is resolved once and remembered.
    const known = await knownInterpreter(store, exact);
    let judged = known ? await runPython(known) : undefined;
    if (!judged?.version.startsWith(`3.${minor}.`)) {
      judged = await runPython(exact);
      if (judged?.version.startsWith(`3.${minor}.`) && judged.executable)
        await rememberInterpreter(store, exact, judged.executable);
    }
    if (!judged?.version.startsWith(`3.${minor}.`)) judged = await runPython("python3");
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
