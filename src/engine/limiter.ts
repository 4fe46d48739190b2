/** A counting semaphore: at most `size` tasks run at once, the rest wait in FIFO order. */
export class Limiter {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(readonly size: number) {
    if (size < 1) throw new Error("limiter size must be ≥ 1");
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}
