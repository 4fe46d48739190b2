// The TTY edge of the build view: log-update redraws the frame renderBuildView computes.
// Loaded only when stderr is a terminal (a dynamic import in progress.ts).
import { createLogUpdate } from "log-update";
import type { EngineEvent } from "../engine/timings.ts";
import {
  applyBuildEvent,
  type BuildViewState,
  buildViewState,
  renderBuildView,
  summaryLine,
} from "./live-build.ts";
import { wantsColor } from "./live-style.ts";

const FRAME_MS = 100;

export class LiveBuildView {
  private readonly state: BuildViewState = buildViewState(performance.now());
  private readonly log: ReturnType<typeof createLogUpdate>;
  private readonly color: boolean;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(private readonly out: NodeJS.WriteStream) {
    this.log = createLogUpdate(out);
    this.color = wantsColor(out);
  }

  onEvent(e: EngineEvent): void {
    if (this.finished) return;
    applyBuildEvent(this.state, e, performance.now());
    if (e.type === "log") this.line(`${e.target}  ${e.message}`);
    // Redrawn on a clock, not per event: a transfer reports every chunk.
    if (!this.timer) {
      this.render();
      this.timer = setInterval(() => this.render(), FRAME_MS);
      this.timer.unref();
    }
  }

  /** A line kept above the live frame (or after it, once the build is done). */
  line(text: string): void {
    if (this.finished) this.out.write(`${text}\n`);
    else {
      this.log.persist(text);
      this.render();
    }
  }

  /** Stops the clock and leaves the summary line in place of the frame. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearInterval(this.timer);
    this.log.clear();
    if (this.state.finished > 0)
      this.out.write(`${summaryLine(this.state, performance.now(), this.color)}\n`);
  }

  private render(): void {
    this.log(
      renderBuildView(this.state, {
        now: performance.now(),
        columns: this.out.columns ?? 80,
        rows: Math.max(3, (this.out.rows ?? 24) - 2),
        color: this.color,
      }).join("\n"),
    );
  }
}
