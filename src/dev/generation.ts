import type { ExitStatus } from "./runtime.ts";

/**
 * One run of the app inside a long-lived container or pod: what `Runtime.exited()` returns.
 * Ended once (a crash line, a restart, the container stopping); later ends are ignored.
 */
export interface Generation {
  readonly done: Promise<ExitStatus>;
  end(status: ExitStatus): void;
}

export function generation(): Generation {
  let resolve: (s: ExitStatus) => void = () => {};
  let ended = false;
  const done = new Promise<ExitStatus>((r) => {
    resolve = r;
  });
  return {
    done,
    end(s) {
      if (ended) return;
      ended = true;
      resolve(s);
    },
  };
}
