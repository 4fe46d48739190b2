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
