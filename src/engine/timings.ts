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
  | { type: "warning"; target: string; message: string };

export class Timings {
  readonly steps: StepTiming[] = [];
  private readonly listeners: Array<(e: EngineEvent) => void> = [];

  on(listener: (e: EngineEvent) => void): void {
    this.listeners.push(listener);
  }

  emit(e: EngineEvent): void {
    for (const l of this.listeners) l(e);
  }

  async step<T>(target: string, step: string, fn: () => Promise<{ value: T; cached: boolean }>): Promise<T> {
    const t0 = performance.now();
    this.emit({ type: "step-start", target, step });
    const { value, cached } = await fn();
    const timing = { target, step, ms: Math.round((performance.now() - t0) * 10) / 10, cached };
    this.steps.push(timing);
    this.emit({ type: "step-end", ...timing });
    return value;
  }

  log(target: string, message: string): void {
    this.emit({ type: "log", target, message });
  }

  warn(target: string, message: string): void {
    this.emit({ type: "warning", target, message });
  }
}
