/** Per-step wall times, for `--timings` and the `ms` fields of `--json`. */
export interface StepTiming {
  target: string;
  step: string;
  ms: number;
  cached: boolean;
}

export type EngineEvent =
  | { type: "step-start"; target: string; step: string }
  | ({ type: "step-end" } & StepTiming)
  | { type: "log"; target: string; message: string }
  /** Something worth a look that did not stop the build; shown even without progress (-q). */
  | { type: "warning"; target: string; message: string }
  /** Bytes moved so far by a running step's transfers (pulls, pushes, downloads), summed over them. */
  | { type: "bytes"; target: string; step: string; done: number; total: number };

/** Counts bytes as they pass; returned only when someone listens. */
export type ByteMeter = (bytes: number) => void;

export class Timings {
  readonly steps: StepTiming[] = [];
  private readonly listeners: Array<(e: EngineEvent) => void> = [];
  private readonly transfers = new Map<string, { done: number; total: number }>();

  on(listener: (e: EngineEvent) => void): void {
    this.listeners.push(listener);
  }

  emit(e: EngineEvent): void {
    for (const l of this.listeners) l(e);
  }

  async step<T>(target: string, step: string, fn: () => Promise<{ value: T; cached: boolean }>): Promise<T> {
    const t0 = performance.now();
    this.emit({ type: "step-start", target, step });
    try {
      const { value, cached } = await fn();
      const timing = { target, step, ms: Math.round((performance.now() - t0) * 10) / 10, cached };
      this.steps.push(timing);
      this.emit({ type: "step-end", ...timing });
      return value;
    } finally {
      this.transfers.delete(`${target}\0${step}`);
    }
  }

  /**
   * A meter for one transfer of `total` bytes inside the running step `target`/`step`, or
   * undefined when no one listens, so a build without a progress view wraps no stream. Several
   * transfers of one step (a base's layers, a push's blobs) add up to one figure.
   */
  meter(target: string, step: string, total: number): ByteMeter | undefined {
    if (this.listeners.length === 0) return undefined;
    const id = `${target}\0${step}`;
    let sum = this.transfers.get(id);
    if (!sum) {
      sum = { done: 0, total: 0 };
      this.transfers.set(id, sum);
    }
    sum.total += total;
    const s = sum;
    return (bytes) => {
      s.done += bytes;
      this.emit({ type: "bytes", target, step, done: s.done, total: s.total });
    };
  }

  log(target: string, message: string): void {
    this.emit({ type: "log", target, message });
  }

  warn(target: string, message: string): void {
    this.emit({ type: "warning", target, message });
  }
}
