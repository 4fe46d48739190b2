import { request } from "node:http";

/**
 * Resolves once GET http://127.0.0.1:PORT/ answers 2xx/3xx and `ours()` says the listener is the
 * target's (not another program that held the port first); rejects after `timeoutMs`.
 */
export async function waitForPort(
  port: number,
  opts: { timeoutMs?: number; signal?: AbortSignal; ours?: () => Promise<boolean> } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (let delay = 5; ; delay = Math.min(delay * 1.5, 50)) {
    if (opts.signal?.aborted) throw new Error("aborted");
    const answered = await answers(port);
    if (answered && (await (opts.ours?.() ?? true))) return;
    if (Date.now() > deadline) {
      const ms = opts.timeoutMs ?? 30_000;
      throw new Error(
        answered
          ? `port ${port} answered within ${ms} ms, but not from the target's process: another program holds it`
          : `nothing answered on port ${port} within ${ms} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/", method: "GET", timeout: 1000, agent: false },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 400);
      },
    );
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** Waits for a log line matching `re`; lines are fed by the caller through `feed`. */
export class LogWaiter {
  private waiters: Array<{ re: RegExp; resolve: () => void }> = [];

  feed(line: string): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.re.test(line)) return true;
      w.resolve();
      return false;
    });
  }

  wait(re: RegExp): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ re, resolve }));
  }
}
