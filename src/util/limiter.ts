/**
 * A counting semaphore: at most `size` tasks run at once, the rest wait in FIFO order. A finishing
 * task hands its slot straight to the next waiter, so a newcomer cannot jump in between (and the
 * count never exceeds `size`).
 */
export class Limiter {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!(size >= 1)) throw new Error(`concurrency must be at least 1, got ${size}`);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((r) => this.queue.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      const waiter = this.queue.shift();
      if (waiter) waiter();
      else this.active--;
    }
  }
}

/** `new Limiter(n).run` as a function: runs at most `n` of the scheduled tasks at once. */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  const l = new Limiter(n);
  return (task) => l.run(task);
}
