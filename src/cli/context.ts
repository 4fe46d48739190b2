/**
 * Where a CLI run reads its arguments, directory and environment and writes its output. A
 * one-shot `tug` uses the process's own; `tug server` runs each request with the client's, so
 * commands read `cli.stdout`, `cli.env`, `cli.cwd()` instead of `process.*`.
 */
export interface CliStream {
  write(text: string): boolean;
  readonly isTTY?: boolean;
  readonly columns?: number;
  readonly rows?: number;
}

export interface CliContext {
  /** Arguments after `tug`. */
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: CliStream;
  stderr: CliStream;
}

let current: CliContext | undefined;

export function processContext(): CliContext {
  return {
    argv: process.argv.slice(2),
    cwd: process.cwd(),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
  };
}

/** Runs `fn` with `ctx` as the current context; the previous one (a server's own) comes back after. */
export async function withCliContext<T>(ctx: CliContext, fn: () => Promise<T>): Promise<T> {
  const previous = current;
  current = ctx;
  try {
    return await fn();
  } finally {
    current = previous;
  }
}

/** The current run's streams, directory and environment (the process's outside any run). */
export const cli = {
  get stdout(): CliStream {
    return current?.stdout ?? process.stdout;
  },
  get stderr(): CliStream {
    return current?.stderr ?? process.stderr;
  },
  get env(): NodeJS.ProcessEnv {
    return current?.env ?? process.env;
  },
  cwd(): string {
    return current?.cwd ?? process.cwd();
  },
};
