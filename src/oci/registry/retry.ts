import { setTimeout as sleep } from "node:timers/promises";
import { RegistryError } from "./errors.ts";

export interface RetryPolicy {
  /** Attempts after the first one. */
  retries: number;
  baseMs: number;
  maxMs: number;
  /** Source of jitter in [0, 1); injectable so tests are deterministic. */
  random: () => number;
  /**
   * Total time for all attempts of one operation: no retry starts after it. The client sets it
   * to the HTTP deadline, so a silent registry fails once, within --http-timeout, not six times.
   */
  budgetMs?: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  retries: 5,
  baseMs: 250,
  maxMs: 8000,
  random: Math.random,
  budgetMs: Number.POSITIVE_INFINITY,
};

export interface RetryNotice {
  attempt: number;
  delayMs: number;
  error: RegistryError;
}

/**
 * "Full jitter" backoff (AWS architecture blog): a random delay up to the exponential cap, so
 * parallel uploads that failed together do not retry in lockstep.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** attempt);
  return Math.floor(policy.random() * cap);
}

export function isRetryable(e: unknown): e is RegistryError {
  return e instanceof RegistryError && e.retryable;
}

/**
 * Runs `fn` until it succeeds, fails with a non-retryable error, or runs out of attempts.
 * `fn` must redo all of its I/O on each call (re-open streams, start a new upload session).
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  onRetry?: (n: RetryNotice) => void,
): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!isRetryable(e) || attempt >= policy.retries) throw e;
      let delayMs = backoffDelay(attempt, policy);
      // Honour Retry-After from 429/503, but never wait longer than the policy allows.
      if (e.retryAfter !== undefined)
        delayMs = Math.max(delayMs, Math.min(e.retryAfter * 1000, policy.maxMs));
      if (Date.now() - started + delayMs >= (policy.budgetMs ?? Number.POSITIVE_INFINITY)) throw e;
      onRetry?.({ attempt: attempt + 1, delayMs, error: e });
      await sleep(delayMs);
    }
  }
}
