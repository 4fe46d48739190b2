/** Runs at most `n` of the scheduled tasks at once; the rest wait in FIFO order. */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  if (!(n >= 1)) throw new Error(`concurrency must be at least 1, got ${n}`);
  let active = 0;
  const queue: Array<() => void> = [];
  // A finishing task hands its slot straight to the next waiter, so a newcomer cannot jump in between.
  const next = () => {
    const waiter = queue.shift();
    if (waiter) waiter();
    else active--;
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => queue.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      next();
    }
  };
}

/**
 * Like Promise.all, but waits for every task to settle before rejecting, so no upload is still
 * running when the caller reports failure (and no manifest is written over a half-pushed set).
 */
export async function allSettledOrThrow<T>(promises: Array<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
