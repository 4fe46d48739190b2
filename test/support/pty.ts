// Runs a command on a pseudo-terminal (util-linux `script`) and replays what it drew into a
// headless xterm, so tests assert on the screen a user would see, not on escape codes.
import { spawn } from "node:child_process";
import xterm from "@xterm/headless";

export interface PtyOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  cols?: number;
  rows?: number;
}

export interface PtySession {
  /** The screen now (each row, trailing blanks trimmed), after all output so far is drawn. */
  screen(): Promise<string[]>;
  /** Every output chunk as it arrived, raw. */
  readonly raw: string;
  /** Resolves with the screen once `pred` holds for it; rejects with the screen after `timeoutMs`. */
  waitFor(pred: (screen: string[]) => boolean, timeoutMs?: number): Promise<string[]>;
  /** Types on the terminal (e.g. "\x03" is Ctrl-C: the terminal sends SIGINT to the command). */
  type(text: string): void;
  /** Resolves with the exit code once the command has ended. */
  exited: Promise<number | null>;
  /** Every distinct screen seen after each chunk of output. */
  readonly frames: string[][];
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Starts `argv` on a `cols`×`rows` terminal; the process is killed (by PID) if still alive at `stop`. */
export function startInPty(argv: string[], opts: PtyOptions = {}): PtySession & { stop(): void } {
  const cols = opts.cols ?? 100;
  const rows = opts.rows ?? 30;
  const term = new xterm.Terminal({ cols, rows, allowProposedApi: true });
  // stty sizes the terminal the command sees (script's own has no size without a parent tty).
  const inner = `stty cols ${cols} rows ${rows}; exec ${argv.map(quote).join(" ")}`;
  const child = spawn("script", ["-qfec", inner, "/dev/null"], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let raw = "";
  const frames: string[][] = [];
  let drawn = Promise.resolve();
  const read = () => {
    const buf = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < term.rows; i++)
      lines.push(buf.getLine(buf.viewportY + i)?.translateToString(true) ?? "");
    return lines;
  };
  const waiters = new Set<() => void>();
  child.stdout.on("data", (b: Buffer) => {
    const text = b.toString("utf8");
    raw += text;
    drawn = drawn.then(
      () =>
        new Promise<void>((resolve) =>
          term.write(text, () => {
            const s = read();
            const last = frames.at(-1);
            if (!last || last.join("\n") !== s.join("\n")) frames.push(s);
            for (const w of waiters) w();
            resolve();
          }),
        ),
    );
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const screen = async () => {
    await drawn;
    return read();
  };
  return {
    screen,
    get raw() {
      return raw;
    },
    frames,
    exited,
    type: (text) => child.stdin.write(text),
    waitFor: (pred, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const s = read();
          if (!pred(s)) return;
          cleanup();
          resolve(s);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`screen never matched; it shows:\n${read().join("\n")}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        void drawn.then(check);
      }),
    stop: () => {
      if (child.exitCode === null && child.pid) child.kill("SIGKILL");
    },
  };
}
