// The interpreter side of the syntax check (syntax-check.ts): a small script that compiles framed
// files and answers one line per file. A one-shot build starts it once; a resident process
// (tug dev, tug server) keeps one per interpreter, so an edit costs no interpreter start-up.
import { type ChildProcess, spawn } from "node:child_process";
import type { Socket } from "node:net";
import type { SourceToCheck, SyntaxProblem } from "./syntax-check.ts";

// compile() finds what the grammar and the compiler refuse ('return' outside a function, …) as
// the judging interpreter sees it; ast.parse with feature_version also refuses syntax newer than
// the target's Python (a `type X = …` alias for python3.11 checked by a 3.12 interpreter), so it
// runs only when the judge is newer than the target. Bytes, not text: a `# -*- coding: … -*-`
// cookie is honoured as on Lambda. Nothing else is imported (ast, json and base64 are ~30 ms of
// an edit's ~60 ms check here): requests come framed on stdin ("MINOR COUNT", then per file
// "NAME_BYTES DATA_BYTES", the name, the data), each answered with 2 + COUNT lines on stdout:
// the version, the executable, then "ok" or "error LINE COLUMN MESSAGE" per file.
const SCRIPT = `
import sys, warnings
warnings.simplefilter("ignore")
inp = sys.stdin.buffer
outp = sys.stdout.buffer
one = lambda m: " ".join(str(m).split())
while True:
    head = inp.readline()
    if not head:
        break
    minor, count = map(int, head.split())
    newer = sys.version_info[1] > minor
    if newer:
        import ast
    out = ["%d.%d.%d" % sys.version_info[:3], (sys.executable or "").replace("\\n", " ").replace("\\r", " ")]
    for _ in range(count):
        n, d = map(int, inp.readline().split())
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
    outp.write(("\\n".join(out) + "\\n").encode("utf-8", "backslashreplace"))
    outp.flush()
`;

export interface Judged {
  version: string;
  /** The interpreter's own path: what a `python3.X` wrapper (a pyenv shim) ran in the end. */
  executable?: string;
  results: (SyntaxProblem | null)[];
}

function request(minor: number, files: readonly SourceToCheck[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`${minor} ${files.length}\n`)];
  for (const f of files) {
    const name = Buffer.from(f.shown, "utf8");
    parts.push(Buffer.from(`${name.length} ${f.data.length}\n`), name, f.data);
  }
  return Buffer.concat(parts);
}

function parseJudged(lines: readonly string[], count: number): Judged | undefined {
  const [version, executable, ...rest] = lines;
  if (!version || !/^\d+\.\d+\.\d+$/.test(version) || executable === undefined) return undefined;
  if (rest.length !== count) return undefined;
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

const start = (command: string): ChildProcess =>
  spawn(command, ["-I", "-S", "-c", SCRIPT], { stdio: ["pipe", "pipe", "ignore"] });

/** Starts `command`, asks once, and lets it end; undefined when it cannot run or answers nonsense. */
function once(command: string, minor: number, files: readonly SourceToCheck[]): Promise<Judged | undefined> {
  return new Promise((resolve) => {
    const child = start(command);
    const chunks: Buffer[] = [];
    child.stdout?.on("data", (c: Buffer) => chunks.push(c));
    child.on("error", () => resolve(undefined));
    child.on("close", (code) => {
      if (code !== 0) return resolve(undefined);
      const lines = Buffer.concat(chunks).toString("utf8").split("\n");
      if (lines.at(-1) === "") lines.pop();
      resolve(parseJudged(lines, files.length));
    });
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(request(minor, files));
  });
}

/** An interpreter kept running: requests one at a time, each answered by its 2 + COUNT lines. */
class KeptJudge {
  private readonly child: ChildProcess;
  private text = "";
  private lines: string[] = [];
  private waiting: { want: number; resolve: (lines: string[] | undefined) => void } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  dead = false;

  constructor(command: string) {
    this.child = start(command);
    this.hold(false);
    this.child.stdout?.on("data", (c: Buffer) => {
      this.text += c.toString("utf8");
      const parts = this.text.split("\n");
      this.text = parts.pop() ?? "";
      this.lines.push(...parts);
      this.deliver();
    });
    const die = () => {
      this.dead = true;
      this.hold(false);
      this.waiting?.resolve(undefined);
      this.waiting = undefined;
    };
    this.child.on("error", die);
    this.child.on("exit", die);
    this.child.stdin?.on("error", die);
  }

  /**
   * Idle, it never keeps this process alive (it ends with its stdin when this process exits);
   * while a question is out, it does, or the answer could be waited for by nothing.
   */
  private hold(busy: boolean): void {
    if (busy) this.child.ref();
    else this.child.unref();
    for (const s of [this.child.stdin, this.child.stdout]) {
      const socket = s as Socket | null;
      if (busy) socket?.ref?.();
      else socket?.unref?.();
    }
  }

  /** Stops the interpreter (its answers can no longer be matched to questions). */
  stop(): void {
    this.dead = true;
    this.child.kill();
  }

  private deliver(): void {
    const w = this.waiting;
    if (!w || this.lines.length < w.want) return;
    this.waiting = undefined;
    this.hold(false);
    w.resolve(this.lines.splice(0, w.want));
  }

  ask(minor: number, files: readonly SourceToCheck[]): Promise<Judged | undefined> {
    const asked = this.queue.then(
      () =>
        new Promise<Judged | undefined>((resolve) => {
          if (this.dead) return resolve(undefined);
          this.hold(true);
          this.waiting = {
            want: 2 + files.length,
            resolve: (lines) => resolve(lines && parseJudged(lines, files.length)),
          };
          this.child.stdin?.write(request(minor, files));
          this.deliver();
        }),
    );
    this.queue = asked;
    return asked;
  }
}

// Per command and PATH, as interpreter-memo.ts keys them: another PATH may find another python.
const kept = new Map<string, KeptJudge>();
const keyOf = (command: string) => `${command}\0${process.env.PATH ?? ""}`;

/**
 * Starts `command` now, so that the interpreter is up by the time the files to check are known
 * (a one-shot edit reads and parses them meanwhile); the next `judge` of it asks this one.
 */
export function warmJudge(command: string): void {
  const j = kept.get(keyOf(command));
  if (!j || j.dead) kept.set(keyOf(command), new KeptJudge(command));
}

/**
 * The verdicts of `command` (python3.11, or an interpreter's path) on `files` for Python
 * 3.`minor`; undefined when it does not run or answers something else. `resident`: the
 * interpreter is kept for the next call (one per command; a dead one is started again); one
 * started by warmJudge is asked either way.
 */
export async function judge(
  command: string,
  minor: number,
  files: readonly SourceToCheck[],
  resident: boolean,
): Promise<Judged | undefined> {
  const key = keyOf(command);
  let j = kept.get(key);
  if (!resident && (!j || j.dead)) return once(command, minor, files);
  if (!j || j.dead) {
    j = new KeptJudge(command);
    kept.set(key, j);
  }
  const judged = await j.ask(minor, files);
  // A judge that answered nonsense is not asked again.
  if (!judged) {
    j.stop();
    kept.delete(key);
  }
  return judged;
}
